"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test builds one virtual environment per sanity test and bootstraps pip in
it with a script fetched from a host outside the package registries, which this
project's machines cannot reach. This script does the same job with what is
reachable: the standard library's ensurepip, then pip from PyPI at the version
ansible-test asks for. The Makefile's `sanity` target puts it where ansible-test
looks for its cached copy.
"""

import subprocess
import sys

# get-pip.py options that plain `pip install` does not know.
_GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

if __name__ == "__main__":
    # In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null in its own
    # environment, which would hide the machine's pip configuration from the install below.
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    args = [a for a in sys.argv[1:] if a not in _GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])
