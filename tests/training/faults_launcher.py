"""`keras-ssd train` with a fault point, for tests/training/test_faults.py.

Run as `python -m tests.training.faults_launcher [--pause-in-epoch N | --pause-before-commit NAME]
--marker FILE -- <keras-ssd arguments>`. It runs the real command line (`keras_ssd.cli.main`)
with one change: at the fault point, it creates `FILE` and sleeps until the test kills it:

- `--pause-in-epoch N`: after the first batch of epoch N (counted from 1);
- `--pause-before-commit NAME`: inside `atomic_files.write_atomically`, once the temporary file of
  `NAME` is completely written and before it is renamed into place.
"""

import argparse
import functools
import os
import sys
import time

_SLEEP_SECONDS = 600


def _stop_here(marker):
    with open(marker, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(_SLEEP_SECONDS)
    raise SystemExit(f"fault point {marker}: not killed within {_SLEEP_SECONDS} s")


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--pause-in-epoch", type=int, default=None)
    parser.add_argument("--pause-before-commit", default=None)
    parser.add_argument("--marker", default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    import keras

    from keras_ssd import cli, training
    from keras_ssd.utils import atomic_files

    callbacks = []
    if args.pause_in_epoch is not None:

        class PauseInEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch + 1

            def on_train_batch_end(self, batch, logs=None):
                if self.epoch == args.pause_in_epoch:
                    _stop_here(args.marker)

        callbacks.append(PauseInEpoch())
    if args.pause_before_commit is not None:
        commit = atomic_files._commit

        def pausing_commit(temporary, path):
            if os.path.basename(path) == args.pause_before_commit:
                _stop_here(args.marker)
            commit(temporary, path)

        atomic_files._commit = pausing_commit
    training.train_detector = functools.partial(training.train_detector, callbacks=callbacks)
    return cli.main(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
