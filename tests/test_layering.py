import subprocess
import sys


def test_library_packages_do_not_import_prefect():
    code = ("import sys, extractors, verifiers, warehouse, factledger.app, factledger.corpus, factledger.cli; "
            "print('prefect' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
