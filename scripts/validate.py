"""`rasa data validate`, failing on every warning except responses that only actions use.

Rasa warns that a response is "not used in any story or rule" when a custom action utters it
(utter_crying_stage_<stage>), a form asks with it (utter_ask_<slot>) or the safety policy plays it
(the follow-ups of a safety reply, bot/safety/policy.py). Those are expected and checked by
tests/content/; any other warning fails the build.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule")
# domain/faq.yml declares the retrieval intent, and Rasa adds it again from the NLU data
RETRIEVAL_DUPLICATE = re.compile(
    r"duplicated intents have been found across multiple domain files: faq$"
)


def used_outside_stories() -> set[str]:
    """Responses uttered by actions (literal names or f-string prefixes) or asked by forms."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "actions").glob("*.py"))
    names = set(re.findall(r"[\"'](utter_\w+)", source))
    prefixes = set(re.findall(r"f[\"'](utter_\w+?)\{", source))
    slots: set[str] = set()
    for path in (ROOT / "domain").glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        slots |= set((data.get("slots") or {}).keys())
        for name in data.get("responses") or {}:
            if any(name.startswith(p) for p in prefixes):
                names.add(name)
    from bot.safety.policy import policy_responses

    return names | {f"utter_ask_{s}" for s in slots} | policy_responses()


def main() -> int:
    rasa = Path(sys.executable).with_name("rasa")
    cmd = [str(rasa), "data", "validate", "--domain", "domain", "--data", "data"]
    cmd += ["--config", "config.yml"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    allowed = used_outside_stories()
    problems = []
    for line in output.splitlines():
        if "UserWarning" not in line and "WARNING" not in line and "ERROR" not in line:
            continue
        unused = UNUSED.search(line)
        if unused and unused.group(1) in allowed:
            continue
        if RETRIEVAL_DUPLICATE.search(line.strip()):
            continue
        if "SQLALCHEMY" in line or "MovedIn20Warning" in line or "DeprecationWarning" in line:
            continue
        problems.append(line.strip())
    if proc.returncode != 0 or problems:
        print(output if proc.returncode != 0 else "\n".join(problems))
        print("rasa data validate: problems found (see above).")
        return 1
    print("rasa data validate: domain, NLU data, stories and rules are consistent.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
