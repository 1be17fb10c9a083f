"One set of exact versions for both installers: pip's (runs/setup.sh: torch, then requirements.txt) and uv's (pyproject.toml)."
import re, tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT/'pyproject.toml').read_text())


def pins(lines) -> dict:
    "{canonical name: version} of exact pins such as 'PyYAML==6.0.3'."
    pinned = {}
    for line in lines:
        requirement = Requirement(line)
        assert len(requirement.specifier) == 1 and next(iter(requirement.specifier)).operator == '==', f'{line!r} is not an exact pin'
        pinned[canonicalize_name(requirement.name)] = next(iter(requirement.specifier)).version
    return pinned


def pip_pins() -> dict:
    requirements = [line for line in (ROOT/'requirements.txt').read_text().splitlines() if line and not line.startswith('#')]
    torch = re.findall(r'pip install -q (torch==\S+)', (ROOT/'runs'/'setup.sh').read_text())
    assert len(torch) == 1, f'runs/setup.sh should install one torch pin before requirements.txt, found {torch}'
    return pins(torch + requirements)


def test_uv_constraints_are_pips_pins():
    uv, pip = pins(PYPROJECT['tool']['uv']['constraint-dependencies']), pip_pins()
    only_uv, only_pip = sorted(set(uv.items()) - set(pip.items())), sorted(set(pip.items()) - set(uv.items()))
    assert not only_uv and not only_pip, (f'pyproject.toml [tool.uv] constraint-dependencies and runs/setup.sh + requirements.txt differ: '
                                          f'only uv {only_uv}, only pip {only_pip}; copy requirements.txt\'s pins into pyproject.toml')


def test_torch_extras_pin_the_same_torch():
    extras = PYPROJECT['project']['optional-dependencies']
    assert pins(extras['cpu']) == pins(extras['gpu']) == {'torch': pip_pins()['torch']}, extras


def test_declared_ranges_admit_the_pins():
    "A range in pyproject.toml that excludes the pinned version would install for library users what no test has run."
    pinned = pip_pins()
    declared = PYPROJECT['project']['dependencies'] + PYPROJECT['dependency-groups']['dev']
    for requirement in map(Requirement, declared):
        version = pinned.get(canonicalize_name(requirement.name))
        assert version and requirement.specifier.contains(version), f'{requirement} admits no pinned version (pinned: {version})'
