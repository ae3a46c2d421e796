"""The README's two set-up commands are the ones CI runs and the ones that work."""

import re

from .conftest import REPO


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_readme_opens_with_exactly_two_setup_commands():
    text = (REPO / "README.md").read_text()
    setup = text.split("## Set-up on a new machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", setup, flags=re.S)
    assert len(commands) == 2
    assert "spinlens analyze" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    test_command = _bash_blocks()[1].strip()
    assert test_command in (REPO / ".ci" / "run").read_text()


def test_example_named_in_readme_exists():
    path = re.search(r"spinlens analyze (\S+)", _bash_blocks()[0]).group(1)
    assert (REPO / path).is_file()
