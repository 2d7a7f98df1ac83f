"""Local copies of the models Longform can score with, so that scoring runs offline."""
