"""Two leaderboard runners never train the same row (scripts/leaderboard.py's claim()),
save-progress copies only checkpoints small enough for the repository, and recalibrate records
a row's accuracy with recomputed statistics only from the checkpoint of the committed run."""
import argparse
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import leaderboard  # noqa: E402
import leaderboard_report  # noqa: E402


class ClaimTest(unittest.TestCase):
    def setUp(self):
        self.row = Path(tempfile.mkdtemp())
        self.lock = self.row / "runner.pid"

    def test_a_free_row_is_taken_and_kept(self):
        self.assertTrue(leaderboard.claim(self.row))
        self.assertEqual(self.lock.read_text(), str(os.getpid()))
        self.assertTrue(leaderboard.claim(self.row))  # our own claim

    def test_a_live_runner_keeps_its_row(self):
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            self.lock.write_text(str(other.pid))
            self.assertFalse(leaderboard.claim(self.row))
        finally:
            other.kill()
            other.wait()
        # ... and once it has died, its claim is taken over.
        self.assertTrue(leaderboard.claim(self.row))
        self.assertEqual(self.lock.read_text(), str(os.getpid()))

    def test_a_claim_being_written_is_respected(self):
        self.lock.write_text("")
        self.assertFalse(leaderboard.claim(self.row))


class SaveProgressTest(unittest.TestCase):
    def save(self, checkpoint_bytes):
        """save-progress of one interrupted row whose checkpoint holds `checkpoint_bytes`."""
        cache, results = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        suite = leaderboard.Suite(name="leaderboard", results=results, epochs=10, recipe=[],
                                  rows=[("bn", [])])
        row = cache / "bn"
        row.mkdir()
        (row / "checkpoint.safetensors").write_bytes(checkpoint_bytes)
        (row / "metrics.jsonl").write_text('{"epoch": 1}\n')
        (row / "config.json").write_text("{}")
        leaderboard.cmd_save_progress(suite, argparse.Namespace(cache=str(cache)))
        return results / "bn" / "resume"

    def test_a_small_checkpoint_is_saved_with_its_metrics(self):
        saved = self.save(bytes(3 << 20))  # zeros: compresses to almost nothing
        self.assertTrue((saved / "checkpoint.safetensors.gz").exists())
        self.assertTrue((saved / "metrics.jsonl").exists())

    def test_a_checkpoint_too_big_for_the_repository_is_not_saved(self):
        saved = self.save(os.urandom(3 << 20))  # random: stays 3 MiB compressed
        self.assertFalse(saved.exists())


class StaleListTest(unittest.TestCase):
    def test_a_row_finished_by_another_runner_is_not_trained_again(self):
        # A runner's list of rows is made when it starts; a row another runner finished since
        # (a diverging row takes seconds) must not be trained again.
        cache, results = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        suite = leaderboard.Suite(name="leaderboard", results=results, epochs=1, recipe=[],
                                  rows=[("ws", [])])
        (results / "ws").mkdir()
        (results / "ws" / "status.json").write_text('{"state": "diverged"}')
        trained = []
        saved, leaderboard.train_row = leaderboard.train_row, lambda *a: trained.append(a)
        try:
            state = leaderboard.run_row(suite, "ws", [], argparse.Namespace(cache=str(cache)))
        finally:
            leaderboard.train_row = saved
        self.assertEqual(state, "finished")
        self.assertEqual(trained, [])
        self.assertFalse((cache / "ws" / "runner.pid").exists())


class LauncherTest(unittest.TestCase):
    def test_sync_batch_norm_trains_under_mpirun_and_the_rest_alone(self):
        saved, leaderboard.shutil.which = leaderboard.shutil.which, lambda _: "/opt/mpirun"
        try:
            self.assertEqual(leaderboard.launcher("bn"), [])
            cmd = leaderboard.launcher("sbn")
        finally:
            leaderboard.shutil.which = saved
        self.assertEqual(cmd[:3], ["/opt/mpirun", "-np", str(leaderboard.RANKS["sbn"])])
        self.assertIn("sbn", [leaderboard.row_id(s, e) for s, e in leaderboard.LEADERBOARD_ROWS])

    def test_no_mpirun_says_what_to_install(self):
        saved, leaderboard.shutil.which = leaderboard.shutil.which, lambda _: None
        try:
            with self.assertRaisesRegex(SystemExit, "openmpi-bin"):
                leaderboard.launcher("sbn")
        finally:
            leaderboard.shutil.which = saved


class CacheLayoutTest(unittest.TestCase):
    def test_no_row_shares_the_binaries_folder(self):
        # Row "bin" once shared "bin/" with the runners' binaries: deleting the row's cache
        # deleted the binaries under the running runners.
        for suite in (leaderboard.LEADERBOARD, leaderboard.CROPFILL):
            for spec, extra in suite.rows:
                self.assertNotEqual(leaderboard.row_id(spec, extra), leaderboard.BINARIES)
                self.assertFalse(leaderboard.row_id(spec, extra).startswith("."))


# Stands in for build/apps/evaluate: 80% as the checkpoint is, 81% after --recalibrate (42
# statistics), or no statistics at all when FAKE_NO_STATS is set.
FAKE_EVALUATE = """#!/usr/bin/env python3
import os, sys
if "--recalibrate" in sys.argv:
    if os.environ.get("FAKE_NO_STATS"):
        print("--recalibrate: the model keeps no running statistics (norm ln); nothing changed")
        print("ck: test accuracy 80.00%, loss 0.5 on 10000 images")
    else:
        print("recomputed 42 running statistics over 3840 training images (training augmentation)")
        print("ck: test accuracy 81.00%, loss 0.5 on 10000 images")
else:
    print("ck: test accuracy 80.00%, loss 0.5 on 10000 images")
"""


# Stands in for build/apps/train's throwaway run: writes OUT/checkpoint.safetensors.
FAKE_TRAIN = """#!/usr/bin/env python3
import os, sys
out = sys.argv[sys.argv.index("--out") + 1]
open(os.path.join(out, "checkpoint.safetensors"), "wb").write(b"x")
"""


class RecalibrateTest(unittest.TestCase):
    def recalibrate(self, committed_acc, with_checkpoint=True):
        cache, results = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        suite = leaderboard.Suite(name="leaderboard", results=results, epochs=1, recipe=[],
                                  rows=[("bn", [])])
        metrics = '{"epoch": 1, "test_acc": %s}\n' % committed_acc
        (cache / "bn").mkdir()
        (cache / "bn" / "metrics.jsonl").write_text(metrics)
        if with_checkpoint:
            (cache / "bn" / "checkpoint.safetensors").write_bytes(b"x")
        (results / "bn").mkdir()
        (results / "bn" / "metrics.jsonl").write_text(metrics)
        fake, fake_train = cache / "evaluate", cache / "train"
        fake.write_text(FAKE_EVALUATE)
        fake_train.write_text(FAKE_TRAIN)
        for f in (fake, fake_train):
            f.chmod(0o755)
        leaderboard.recalibrate_row(suite, "bn", [], argparse.Namespace(
            cache=str(cache), data="DATA", threads=1, evaluate=fake, binary=fake_train))
        return results / "bn" / "recalibrated.json"

    def test_both_accuracies_are_recorded(self):
        record = self.recalibrate(0.8)
        self.assertEqual(leaderboard_report.recalibrated_cell(record), "81.00%")
        os.environ["FAKE_NO_STATS"] = "1"
        try:
            self.assertEqual(leaderboard_report.recalibrated_cell(self.recalibrate(0.8)), "n/a")
        finally:
            del os.environ["FAKE_NO_STATS"]

    def test_another_runs_checkpoint_or_none_is_not_used(self):
        self.assertFalse(self.recalibrate(0.7).exists())  # scores 80%, committed 70%
        missing = self.recalibrate(0.8, with_checkpoint=False)
        self.assertFalse(missing.exists())
        self.assertEqual(leaderboard_report.recalibrated_cell(missing), "-")

    def test_without_a_checkpoint_a_model_with_no_running_statistics_is_na(self):
        # The checkpoint is gone, but a throwaway checkpoint of the same model shows there is
        # nothing to recompute.
        os.environ["FAKE_NO_STATS"] = "1"
        try:
            record = self.recalibrate(0.8, with_checkpoint=False)
        finally:
            del os.environ["FAKE_NO_STATS"]
        self.assertEqual(leaderboard_report.recalibrated_cell(record), "n/a")


if __name__ == "__main__":
    unittest.main()
