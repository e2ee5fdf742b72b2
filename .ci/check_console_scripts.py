"""CI: every console script setup.py declares is installed and starts.

Each one runs with --helpshort, as a user would (from PATH), and must exit as absl does
after printing help (status 1; 0 accepted), without a traceback, listing its own flags.
Run after `pip install -e .` (twice: the second install must not break the package).
"""

import ast
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def console_scripts() -> list[str]:
    """The `name=module:function` entries of CONSOLE_SCRIPTS in setup.py."""
    tree = ast.parse(open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CONSOLE_SCRIPTS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise SystemExit("setup.py has no CONSOLE_SCRIPTS list")


def main() -> int:
    failures = []
    for entry in console_scripts():
        name = entry.split("=", 1)[0].strip()
        exe = shutil.which(name)
        if exe is None:
            failures.append(f"{name}: not installed on PATH")
            continue
        result = subprocess.run([exe, "--helpshort"], capture_output=True, text=True, timeout=300)
        output = result.stdout + result.stderr
        if result.returncode not in (0, 1) or "Traceback" in output:
            failures.append(f"{name}: exit {result.returncode}\n{output[-2000:]}")
        elif "\n  --" not in output:
            failures.append(f"{name}: --helpshort lists none of its flags\n{output[-2000:]}")
        else:
            print(f"ok {name}", flush=True)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
