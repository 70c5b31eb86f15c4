"""The run folder: new, resumed, finished and continued runs; the per-class AP line."""

import os

import pytest

from keras_ssd.training.trainer import classification_loss
from keras_ssd.training.callbacks import PerClassAPPrinter
from keras_ssd.training.callbacks import ProgressBarWithoutAP
from keras_ssd.training.run_folder import RunFolder


def _history(folder, rows):
    header = "epoch,loss,val_AP50\n"
    (folder / "history.csv").write_text(header + "".join(f"{i},1.0,{ap}\n" for i, ap in enumerate(rows)))


def test_new_resumed_finished_and_continued_runs(tmp_path):
    run = RunFolder(str(tmp_path / "run"))
    assert run.check_can_train(3) == 0 and run.epochs_done() == 0 and run.best("val_AP50") is None
    folder = tmp_path / "run"
    folder.mkdir()
    _history(folder, [0.1, 0.4, "nan"])
    with pytest.raises(ValueError, match="has a history.csv of 3 epochs but neither model.keras nor backup/"):
        run.check_can_train(5)
    (folder / "backup").mkdir()
    assert run.check_can_train(5) == 0  # BackupAndRestore resumes it
    os.rmdir(folder / "backup")
    (folder / "model.keras").write_bytes(b"finished")
    for epochs in (2, 3):
        with pytest.raises(ValueError, match=r"finished run of 3 epochs .* \(e.g. --epochs 13\)"):
            run.check_can_train(epochs)
    with pytest.raises(ValueError, match=r"not its checkpoint \(backup/state.json\)"):
        run.check_can_train(4)
    (folder / "backup").mkdir()
    (folder / "backup" / "state.json").write_text("{}")
    assert run.check_can_train(4) == 3  # continues after the 3 epochs done
    assert run.best("val_AP50") == 0.4  # NaN epochs are not a best
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        run.check_can_train(0)


def test_per_class_ap_line(capsys):
    printer = PerClassAPPrinter(["top", "dress"])
    printer.on_epoch_end(2, {"val_AP50": 0.5, "val_AP50/top": 0.25, "val_AP50/dress": 0.75})
    printer.on_epoch_end(3, {"loss": 1.0})  # an epoch without evaluation prints nothing
    assert capsys.readouterr().out == "epoch 3 val AP50: top 0.250, dress 0.750 (mean 0.500)\n"
    printer.on_epoch_end(4, {"val_AP50": 0.0, "val_AP50/top": 0.0, "val_AP50/dress": 0.0, "val_AP": 0.0})
    assert capsys.readouterr().out == "epoch 5 val AP50: top 0.000, dress 0.000 (mean 0.000); AP 0.000\n"


def test_the_progress_bar_leaves_the_ap_to_the_ap_line(capsys):
    bar = ProgressBarWithoutAP()
    bar.set_params({"verbose": 1, "epochs": 1, "steps": 1})
    bar.on_epoch_begin(0)
    bar.on_train_batch_end(0, {"loss": 0.5})
    bar.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.25, "val_AP": 0.0, "val_AP50": 0.0, "val_AP50/top": 0.0})
    out = capsys.readouterr().out
    assert "loss: 0.5000" in out and "val_loss: 0.2500" in out
    assert "AP" not in out and "e+00" not in out


def test_loss_names():
    assert classification_loss("softmax") is None  # SSD's default: softmax with hard-negative mining
    assert type(classification_loss("focal")).__name__ == "SigmoidFocalClassificationLoss"
    sigmoid = classification_loss("sigmoid")
    assert type(sigmoid).__name__ == "HardNegativeMining" and sigmoid.uses_background_logit is False
    with pytest.raises(ValueError, match="loss must be one of softmax, focal, sigmoid, got 'hinge'"):
        classification_loss("hinge")
