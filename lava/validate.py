"""Validates lava/*.yaml with the schema validators of LAVA's own lava-common package (Debian's
lava-common): the job definition with lava_common.schemas.validate (strict, as the server checks a
submission), the test definition with lava_common.schemas.test.testdef.validate. Prints one line per
file and exits 1 when one is invalid. Usage: /usr/bin/python3 lava/validate.py JOB.yaml... -- TESTDEF.yaml...
"""
import sys

import yaml
from lava_common.schemas import validate as validate_job
from lava_common.schemas.test.testdef import validate as validate_testdef
from voluptuous import Invalid


def main(argv):
    if "--" not in argv:
        print("usage: validate.py JOB.yaml... -- TESTDEF.yaml...", file=sys.stderr)
        return 2
    split = argv.index("--")
    checks = [(path, validate_job) for path in argv[:split]] + [(path, validate_testdef) for path in argv[split + 1:]]
    failed = 0
    for path, check in checks:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        try:
            check(data)
            print(f"{path}: valid")
        except Invalid as e:
            failed += 1
            print(f"{path}: invalid: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
