"""What a person reads while a batch of files is being embedded."""

from __future__ import annotations

from app.core.indexing.progress import ProgressMeter


def test_live_chunks_show_before_the_batch_is_committed() -> None:
    meter = ProgressMeter()
    meter.begin(10)
    meter.live(0, "", 64)
    snap = meter.snapshot()
    assert (snap.files_done, snap.files_total, snap.chunks) == (0, 10, 64)
    assert snap.chunks_per_s > 0 and snap.eta_s is None  # no file finished yet: no ETA
    assert "0/10 files · 64 chunks" in snap.line()
    meter.advance(4, 70, "/notes/d.md", 1.0)  # the batch committed: live counts are folded in
    snap = meter.snapshot()
    assert (snap.files_done, snap.chunks, snap.current) == (4, 70, "/notes/d.md")
    meter.live(2, "/notes/f.md", 30)
    snap = meter.snapshot()
    assert (snap.files_done, snap.chunks, snap.current) == (6, 100, "/notes/f.md")
    assert snap.eta_s is not None and snap.eta_s >= 0  # from the files done so far
