"""The `keras-ssd` command line answers at once: no TensorFlow on import, --version, defaults in --help."""

import os
import runpy
import subprocess
import sys
import textwrap

import pytest

import keras_ssd
from keras_ssd.cli import COMMANDS
from keras_ssd.cli import build_parser
from keras_ssd.cli import main


def _python(code):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_the_command_line_imports_no_tensorflow():
    output = _python(
        """
        import sys
        import keras_ssd.cli
        import keras_ssd
        keras_ssd.__version__
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
        """
    )
    assert output.strip() == "[]"


def test_top_level_names_are_lazy_but_importable():
    output = _python(
        """
        import sys
        import keras_ssd
        assert "SSD" in dir(keras_ssd) and "compute_class_weights" in dir(keras_ssd)
        assert "tensorflow" not in sys.modules
        from keras_ssd import SSD, compute_class_weights
        from keras_ssd.models.ssd import SSD as model_class
        assert SSD is model_class and keras_ssd.SSD is SSD
        print(sorted(keras_ssd.__all__), list(compute_class_weights([10, 10])))
        """
    )
    assert output.strip() == (
        "['AnchorGenerator', 'SSD', '__version__', 'compute_class_weights', 'losses'] [1.0, 1.0]"
    )


def test_unknown_top_level_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Detector'"):
        keras_ssd.Detector  # noqa: B018


def test_version_prints_the_package_version():
    result = subprocess.run([sys.executable, "-m", "keras_ssd", "--version"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip() == f"keras-ssd {keras_ssd.__version__}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_help_shows_the_defaults(command):
    parser = build_parser()
    subparser = parser._subparsers._group_actions[0].choices[command]
    help_text = subparser.format_help()
    for action in subparser._actions:
        # An option whose help text states its default in words is left as it is.
        if (action.option_strings and action.default != "==SUPPRESS==" and "default" not in (action.help or "")
                and isinstance(action.default, (int, float, str)) and not isinstance(action.default, bool)):
            assert f"default: {action.default}" in " ".join(help_text.split()), action.dest


def test_train_help_shows_an_option_default_that_had_no_help_text():
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert "--batch-size BATCH_SIZE (default: 32)" in help_text
    assert "--seed SEED (default: 0)" in help_text
    assert "a finished run's continues it. (default: 10)" in help_text  # after its help text


@pytest.mark.long_running(seconds=15)
def test_a_saved_model_loads_after_import_keras_then_import_keras_ssd(tmp_path):
    path = tmp_path / "model.keras"
    _python(
        f"""
        from keras_ssd import SSD
        from tests.conftest import tiny_backbone
        SSD(num_classes=2, backbone=tiny_backbone(), image_size=64).save(r"{path}")
        """
    )
    output = _python(
        f"""
        import keras
        import keras_ssd
        model = keras.saving.load_model(r"{path}")
        print(type(model).__name__, model.num_classes)
        """
    )
    assert output.strip().splitlines()[-1] == "SSD 2"


@pytest.mark.parametrize("command", ["", *sorted(COMMANDS)])
def test_every_help_is_the_one_recorded(
    command, monkeypatch, capsys
):
    # tests/fixtures/cli_help/ holds `keras-ssd [COMMAND] --help` at 100 columns, recorded before
    # the command line became a package; a change to an option changes them on purpose.
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as stopped:
        main([command, "--help"] if command else ["--help"])
    assert stopped.value.code == 0
    recorded = os.path.join(os.path.dirname(__file__), "fixtures", "cli_help", f"{command or 'main'}.txt")
    with open(recorded) as file:
        assert capsys.readouterr().out == file.read()


@pytest.mark.parametrize("module", ["keras_ssd", "keras_ssd.cli"])
def test_python_dash_m_runs_the_command_line(module, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [module, "--version"])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_module(module, run_name="__main__")
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"keras-ssd {keras_ssd.__version__}"
