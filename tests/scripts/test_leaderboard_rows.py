"""The leaderboard has a row for every registered normalizer: each name that `train
--list-norms` prints appears in some row's spec (a compound spec such as gn+ws:groups=8 covers
both of its parts), and each row is put in its normalizer's family. Usage: test_leaderboard_rows.py PATH/TO/train"""
import re
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import leaderboard  # noqa: E402
import leaderboard_report  # noqa: E402

TRAIN = sys.argv.pop(1) if len(sys.argv) > 1 else None


def registered_norms(train):
    listing = subprocess.run([train, "--list-norms"], capture_output=True, text=True, check=True)
    # "  gn      GroupNorm: ..."; option lines are indented further.
    return {m.group(1) for m in re.finditer(r"^  (\w+)\s{2,}\S", listing.stdout, re.M)}


def covered_norms(rows):
    return {name for spec, _ in rows for name in leaderboard.spec_names(spec)}


class CoverageTest(unittest.TestCase):
    def test_every_registered_normalizer_has_a_row(self):
        self.assertIsNotNone(TRAIN, "usage: test_leaderboard_rows.py PATH/TO/train")
        registered = registered_norms(TRAIN)
        self.assertGreater(len(registered), 30)  # the listing was read at all
        missing = registered - covered_norms(leaderboard.LEADERBOARD_ROWS)
        self.assertEqual(missing, set(), "normalizers with no leaderboard row "
                         "(scripts/leaderboard.py LEADERBOARD_ROWS)")

    def test_a_compound_spec_covers_its_parts(self):
        self.assertEqual(covered_norms([("gn+ws:groups=8", []), ("pn:ln", [])]),
                         {"gn", "ws", "pn"})


class FamilyTest(unittest.TestCase):
    def test_rows_take_their_family_from_the_registry_list(self):
        families = leaderboard_report.norm_families()  # docs/norms/index.md, from the registry
        of = lambda spec: leaderboard_report.family_of(spec, families)  # noqa: E731
        self.assertEqual(of("bn"), "batch statistics")
        self.assertEqual(of("gn:groups=8"), "per sample")
        self.assertEqual(of("pono"), "per position, across channels")
        self.assertEqual(of("gn+ws:groups=8"), "per sample + weight side")
        self.assertEqual(of("none"), "no normalization")
        self.assertEqual(of("noisybn"), "experiments")  # registered by the apps, not listed


if __name__ == "__main__":
    unittest.main()
