import subprocess
import sys


def test_library_packages_do_not_import_prefect():
    code = ("import sys, extractors, verifiers, warehouse, factledger.app, factledger.corpus, factledger.cli; "
            "print('prefect' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_product_never_imports_the_training_package():
    code = ("import sys, extractors, verifiers, warehouse, flows, factledger.app, factledger.corpus, factledger.cli; "
            "print(sorted(m for m in sys.modules if m == 'training' or m.startswith('training.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
