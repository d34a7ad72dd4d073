from pathlib import Path

import pytest

from compensation.errors import IcmError
from territories.scenario import load_scenario, parse_fraction

SHIPPED = sorted((Path(__file__).parents[2] / "plans" / "scenarios").glob("*.yaml"))


def write(tmp_path, text) -> Path:
    (tmp_path / "plans").mkdir(exist_ok=True)
    path = tmp_path / "plans" / "s.yaml"
    path.write_text(text)
    return path


def test_defaults_and_percentages(tmp_path):
    s = load_scenario(write(tmp_path, "alignment:\n  balance: {potential: 10%}\n"), tmp_path)
    a = s.alignment
    assert a.balance.potential == pytest.approx(0.1) and a.balance.workload is None
    assert (a.objective, a.same_region, a.max_moved) == ("disruption", False, None)
    assert (a.solver.name, a.solver.time_limit, a.solver.gap) == ("highs", 60, 0.005)
    assert s.source == "plans/s.yaml" and s.stem == "s"
    assert parse_fraction("0.5%") == 0.005 and parse_fraction(0.08) == 0.08


def test_errors_name_file_line_and_key(tmp_path):
    path = write(tmp_path, "alignment:\n  balance: {potential: 10%}\n  max_moved: lots\n"
                           "  objectiv: distance\n  solver: {name: gurobi}\n")
    with pytest.raises(IcmError) as exc:
        load_scenario(path, tmp_path)
    assert [str(m) for m in exc.value.messages] == [
        "plans/s.yaml:3: max_moved 'lots' in alignment: 'lots' is not a percentage; write it as "
        "10% or 0.1",
        "plans/s.yaml:4: unknown key 'objectiv' in alignment (did you mean 'objective'?)",
        "plans/s.yaml:5: 'gurobi' is not allowed for 'name' in solver of alignment; use one of: "
        "highs, cbc",
    ]


def test_mix_needs_weights(tmp_path):
    with pytest.raises(IcmError, match=r"plans/s.yaml:1: .*objective mix needs weights"):
        load_scenario(write(tmp_path, "alignment:\n  objective: mix\n"), tmp_path)
    s = load_scenario(write(tmp_path, "alignment:\n  objective: mix\n  max_km: 300\n"
                                      "  weights: {disruption: 1, distance: 0.05}\n"), tmp_path)
    assert (s.alignment.weights.distance, s.alignment.max_km) == (0.05, 300)


def test_quota_block_checks(tmp_path):
    path = write(tmp_path, "quotas:\n  year: 2027\n  target: 100\n"
                           "  components: {a: 60%, b: 30%}\n")
    with pytest.raises(IcmError, match=r"plans/s.yaml:\d+: .*quotas.*: components must add up to "
                                       r"100%, not 90%"):
        load_scenario(path, tmp_path)
    path = write(tmp_path, "quotas:\n  year: 2027\n  target: 100\n  method: blend\n"
                           "  components: {a: 100%}\n")
    with pytest.raises(IcmError, match="method blend needs blend"):
        load_scenario(path, tmp_path)


def test_not_a_scenario(tmp_path):
    with pytest.raises(IcmError, match="plans/s.yaml:1: a scenario file needs a top-level"):
        load_scenario(write(tmp_path, "id: x\n"), tmp_path)


def test_python_tags_are_refused(tmp_path):
    path = write(tmp_path, "alignment: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(IcmError):
        load_scenario(path, tmp_path)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_examples_are_valid(path):
    scenario = load_scenario(path, path.parents[2])
    assert scenario.alignment is not None or scenario.quotas is not None
