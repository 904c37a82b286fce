"""Two leaderboard runners never train the same row (scripts/leaderboard.py's claim()), and
save-progress copies only checkpoints small enough for the repository."""
import argparse
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import leaderboard  # noqa: E402


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


if __name__ == "__main__":
    unittest.main()
