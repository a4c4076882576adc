"""The GitHub Actions example must fail when stackfleet fails.

A `run:` step without `shell:` runs as `bash -e {0}`: no pipefail, so in `stackfleet apply | tee
apply.txt` only tee's exit code counts and a failed apply passes CI. `shell: bash` runs
`bash --noprofile --norc -eo pipefail {0}` (GitHub Actions, "Workflow syntax": jobs.<job_id>.
steps[*].shell). Every step that pipes a stackfleet command must run with pipefail, and the
nightly job must fail when the stack sets differ from fleet.toml (`plan --detailed-exitcode`).
"""

import re
from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "github-actions" / "fleet.yml"

# A pipe, not `||`.
PIPE = re.compile(r"(?<!\|)\|(?!\|)")


def effective_shell(workflow: dict, job: dict, step: dict) -> str | None:
    """The shell a step runs in: its own, the job's default, the workflow's default."""
    for source in (step, (job.get("defaults") or {}).get("run") or {}):
        if "shell" in source:
            return source["shell"]
    return ((workflow.get("defaults") or {}).get("run") or {}).get("shell")


def has_pipefail(shell: str | None) -> bool:
    """`bash` (GitHub adds -eo pipefail) or a custom shell that sets pipefail itself."""
    return shell == "bash" or (shell is not None and "pipefail" in shell)


def piped_stackfleet_without_pipefail(workflow: dict) -> list[str]:
    """Steps that pipe a stackfleet command and would pass when it fails."""
    problems = []
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            script = step.get("run", "")
            piped = [
                line
                for line in script.splitlines()
                if "stackfleet " in line and PIPE.search(line.split("#")[0])
            ]
            if not piped:
                continue
            name = f"{job_id}: {step.get('name', script.splitlines()[0])}"
            if not has_pipefail(effective_shell(workflow, job, step)):
                problems.append(f"{name}: runs without pipefail")
            if "set +o pipefail" in script:
                problems.append(f"{name}: turns pipefail off")
    return problems


def load() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_every_piped_stackfleet_step_fails_when_stackfleet_fails():
    workflow = load()
    assert piped_stackfleet_without_pipefail(workflow) == []
    # Something is checked: the apply and nightly steps pipe into tee.
    runs = [s.get("run", "") for j in workflow["jobs"].values() for s in j.get("steps", [])]
    assert any("stackfleet apply" in r and "| tee" in r for r in runs)


def test_no_stackfleet_failure_is_swallowed():
    for job_id, job in load()["jobs"].items():
        for step in job.get("steps", []):
            script = step.get("run", "")
            if "stackfleet " not in script:
                continue
            assert not step.get("continue-on-error"), f"{job_id}: {script}"
            assert "|| true" not in script, f"{job_id}: {script}"


def test_the_nightly_job_fails_when_the_stack_sets_differ_from_fleet_toml():
    nightly = load()["jobs"]["nightly"]
    plans = [
        s
        for s in nightly["steps"]
        if "stackfleet plan" in s.get("run", "") and "--detailed-exitcode" in s["run"]
    ]
    assert len(plans) == 1, "nightly must run `stackfleet plan --detailed-exitcode`"
    step = plans[0]
    # Exit 2 (changes) must fail the step: nothing may catch the code.
    assert "set +e" not in step["run"]
    assert not step.get("continue-on-error")
    assert has_pipefail(effective_shell(load(), nightly, step))


def test_the_checker_catches_the_old_apply_step():
    # The apply step as it was: no shell, so `bash -e` and tee's exit code.
    old = {
        "jobs": {
            "apply": {
                "steps": [{"name": "Apply", "run": 'stackfleet apply "${args[@]}" | tee apply.txt'}]
            }
        }
    }
    assert piped_stackfleet_without_pipefail(old) == ["apply: Apply: runs without pipefail"]
    old["defaults"] = {"run": {"shell": "bash"}}
    assert piped_stackfleet_without_pipefail(old) == []
    old["jobs"]["apply"]["steps"][0]["shell"] = "bash -e {0}"
    assert piped_stackfleet_without_pipefail(old) == ["apply: Apply: runs without pipefail"]
    # `||` is not a pipe.
    assert not PIPE.search("stackfleet plan || exit 1")
