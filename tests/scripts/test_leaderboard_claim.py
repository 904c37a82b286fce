"""Two leaderboard runners never train the same row: scripts/leaderboard.py's claim()."""
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


if __name__ == "__main__":
    unittest.main()
