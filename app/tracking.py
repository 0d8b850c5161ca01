"""Faces followed from frame to frame: each is a Track with a number that stays the same
while that person stays in view.

Full-frame detection is the expensive step (12-26 ms on a 720p frame), so it runs only
every `scan_every` frames, and at once when the picture changes: a cut (most of a small
grey copy changes) ends every track; a track whose own region now shows something else,
in place and where its last motion would take it (a cut between similar pictures, or a
new person where another just was), ends; a change outside the known faces (someone
coming in) asks for a scan. After a cut or a replaced face the scan is repeated on the
next `rescans_after_change` frames, so that a face missed once is not missed for a whole
scan period. In between, each track is looked for near its last box (about 1 ms). A
track reports only the frames it was found in: missed for up to `max_missed` frames in a
row it waits, unreported; missed longer, it ends.

As in ByteTrack (Zhang et al., 2022), only a confident detection starts a track; a weak one
only continues a track near where it is. A weak detection that continues nothing is kept as
a candidate and looked for near its place like a track, so that a face the scan saw only
weakly becomes a track in the first frame it is seen confidently, not a scan period later;
a candidate is never shown. A track is confirmed once it has been found in its first
`min_hits` frames in a row (SORT's min_hits) with at least one confident detection; missed
before that, it was a blip (or a weak false face) and ends unseen. Only a confirmed track
gets a number: with re-identification (app/reid.py) the number of the person its face
shows, else a new one; without, numbers are never reused within a run. With
re-identification a confirmed track is identified once found in IDENTIFY_AT frames (or when
it ends before): a view some frames after a face appears, not its first ones; found in
LATER_VIEWS frames, its face is embedded again for its person.
The pipeline writes a track's first frames once it has its number (app/pipeline.py).
The label a track shows changes only when another emotion leads the smoothed probabilities
by LABEL_MARGIN, so that a one-frame wobble does not flip it.
"""
from dataclasses import dataclass, field

import cv2
import numpy as np

from app.detectors import iou
from app.reid import face_view

CHANGE_SIZE = (160, 90)   # the copy compared between frames: ~0.2 ms
SCAN_EVERY = 15           # frames between scheduled full scans (docs/REALTIME.md: scan schedule)
PATCH_SIZE = (8, 8)       # a track's region, compared between frames
# Mean absolute difference of a track's 8x8 region, brightness and contrast removed, above
# which it shows another face: halfway between the same FER-2013 face moved by 4% of its
# size more than its last motion predicts (fast, at 30 frames/s: 99% under 0.38) and two
# different faces in one place (99% over 0.50), in full and half light (train/ faces,
# `python bench/region_level.py`). A real talking head stays under 0.23.
REGION_LEVEL = 0.44
MIN_HITS = 3              # frames in a row that confirm a new track (docs/REALTIME.md, Detection v4)
# With re-identification: the frames a confirmed track is found in before it is identified.
# The views just after a cut match a person's other views worst (hamilton.mp4's singer: 0.38
# two frames after the cut, 0.45-0.55 four to twenty frames after; docs/REALTIME.md, People).
IDENTIFY_AT = 8
# With re-identification: the frames found at which a numbered track's face is embedded
# again, for its person's kept views (app/reid.py): 5 s, 30 s and 3 minutes at 30 frames/s,
# so that a person seen for a while keeps a view from late in their stay, and short tracks
# (bench/reid.py's shots of 1.5 s) pay nothing
LATER_VIEWS = (150, 900, 5400)
# How far another emotion's smoothed probability must lead the shown one's for the label to
# change (bench/real_footage.py: label changes per track-second, and the delay of a real change)
LABEL_MARGIN = 0.35


def steadied(old, new, weight):
    """The new box, moved `weight` of the way back to the old one where the two overlap well:
    a detector's box jitters by a few pixels from frame to frame, and so would the crop."""
    if weight <= 0 or iou(old, new) < 0.5:
        return new
    return tuple(int(round(weight * a + (1 - weight) * b)) for a, b in zip(old, new))


def region_patch(gray, box):
    """A track's region as a small patch without its brightness and contrast; None off the frame."""
    x, y, w, h = (int(v) for v in box)
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, gray.shape[1]), min(y + h, gray.shape[0])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    patch = cv2.resize(gray[y0:y1, x0:x1], PATCH_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
    return (patch - patch.mean()) / (patch.std() + 4.0)   # + 4: a flat region's noise stays small


def region_difference(previous, gray, box, moved=None):
    """How much the region of `box` in `previous` differs from that of `moved` (default: the
    same box) in `gray`: the mean absolute difference of their patches; None off the frame."""
    before, now = region_patch(previous, box), region_patch(gray, box if moved is None else moved)
    return None if before is None or now is None else float(np.abs(now - before).mean())


def region_changed(previous, gray, box, motion=(0, 0)):
    """Whether the region of `box` in `previous` shows something else in `gray`: compared
    where it was and where its last `motion` (x, y pixels) would take it, it differs in both.
    The first spares a face that keeps still (the motion of a box that jitters is noise), the
    second a face moving steadily; a new face differs in both."""
    x, y, w, h = box
    moved = (int(round(x + motion[0])), int(round(y + motion[1])), w, h)
    places = (box,) if moved == tuple(box) else (box, moved)
    differences = (region_difference(previous, gray, box, place) for place in places)
    return all(d is not None and d > REGION_LEVEL for d in differences)


def steady_label(shown, probs, margin=LABEL_MARGIN):
    """The index of the label to show: `shown` (None: none yet) until another class's
    probability leads it by `margin`, then the most probable class."""
    best = int(np.argmax(probs))
    if shown is None or probs[best] - probs[shown] >= margin:
        return best
    return shown


@dataclass
class Track:
    serial: int                        # the order tracks were started in (numbers go to confirmed ones)
    box: tuple
    first_time: float
    last_time: float
    number: int = None                 # set when the track is confirmed (and identified)
    ended: bool = False
    view: tuple = None                 # its latest view while it waits to be identified (reid.face_view)
    confident: bool = True             # seen confidently at least once (False: a candidate)
    missed: int = 0
    hits: int = 1                      # frames found
    motion: tuple = (0, 0)             # its box's move from the frame before, in pixels
    frames: int = 0
    probs: np.ndarray = None           # this frame's (smoothed) probabilities
    label: int = None                  # the class shown (steady_label)
    label_counts: dict = field(default_factory=dict)

    @property
    def confirmed(self):
        """Numbered: shown and written."""
        return self.number is not None

    @property
    def settled(self):
        """Numbered, or ended without a number: its rows can be written (or dropped)."""
        return self.confirmed or self.ended

    def move_to(self, box, steady, confident=False):
        """Take this frame's box (steadied against the last one) and the move since the last."""
        self.confident = self.confident or bool(confident)
        new = steadied(self.box, box, steady)
        self.motion = ((new[0] + new[2] / 2 - self.box[0] - self.box[2] / 2,
                        new[1] + new[3] / 2 - self.box[1] - self.box[3] / 2) if self.missed == 0 else (0, 0))
        self.box, self.missed = new, 0
        self.hits += 1

    def observe(self, probs, time_s, class_names, smooth=0.0, label_margin=LABEL_MARGIN):
        """Take this frame's probabilities, averaged with the past by `smooth` (0: off), and
        choose the label shown (steady_label, `label_margin`); returns the smoothed probabilities."""
        if self.probs is not None and smooth > 0:
            probs = smooth * self.probs + (1 - smooth) * probs
        self.probs = np.asarray(probs, np.float32)
        if not self.frames:   # a candidate's first confident frame, not its first weak one
            self.first_time = time_s
        self.label = steady_label(self.label, self.probs, label_margin)
        self.frames += 1
        self.last_time = time_s
        label = class_names[self.label]
        self.label_counts[label] = self.label_counts.get(label, 0) + 1
        return self.probs

    @property
    def dominant(self):
        return max(self.label_counts, key=self.label_counts.get) if self.label_counts else None


class SceneChange:
    """Compares a small grey copy of each frame with the previous one.

    cut: the mean absolute difference is above `cut_level` (grey levels), as at a
    hard cut or a camera switch. elsewhere: some block outside the known faces
    changed by more than `block_level` on average, as when a face comes in.
    """

    def __init__(self, cut_level=30.0, block_level=25.0, blocks=(32, 18)):
        self.cut_level, self.block_level, self.blocks = cut_level, block_level, blocks
        self.previous = None

    def check(self, gray, boxes):
        """(cut, changed elsewhere) for this frame, given the boxes of the known faces."""
        small = cv2.resize(gray, CHANGE_SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)
        previous, self.previous = self.previous, small
        if previous is None:
            return True, True
        difference = np.abs(small - previous).astype(np.uint8)
        if difference.mean() > self.cut_level:
            return True, True
        sx, sy = CHANGE_SIZE[0] / gray.shape[1], CHANGE_SIZE[1] / gray.shape[0]
        for x, y, w, h in boxes:   # a tracked face moving is not news
            difference[max(0, int((y - h / 4) * sy)):int((y + 1.25 * h) * sy) + 1,
                       max(0, int((x - w / 4) * sx)):int((x + 1.25 * w) * sx) + 1] = 0
        block_means = cv2.resize(difference, self.blocks, interpolation=cv2.INTER_AREA)
        return False, bool(block_means.max() > self.block_level)


class FaceTracker:
    """Turns frames into live tracks."""

    def __init__(self, detector, scan_every=SCAN_EVERY, max_missed=2, match_iou=0.3, rescans_after_change=2,
                 steady=0.5, min_hits=MIN_HITS, embedder=None, people=None):
        """`embedder` and `people` (app/reid.py; None: off): confirmed tracks are numbered by person."""
        self.detector, self.steady = detector, steady
        self.embedder, self.people = embedder, people
        self.min_hits = min_hits
        self.identify_at = max(min_hits, IDENTIFY_AT) if people is not None else min_hits
        self.rescans_after_change = rescans_after_change
        self.rescans = 0
        self.previous = None   # the last grey frame
        self.scan_every, self.max_missed, self.match_iou = scan_every, max_missed, match_iou
        self.change = SceneChange()
        self.tracks = []       # live tracks
        self.every_track = []  # every track of the run, for the summary
        self.next_number = 1
        self.next_serial = 1
        self.since_scan = 0

    def update(self, gray, time_s, frame=None):
        """Find this frame's faces (`frame`: the colour frame, for re-identification); returns
        the tracks found in this frame, each with its box, those not yet confirmed too (their
        `number` is None)."""
        cut, elsewhere = self.change.check(gray, [t.box for t in self.tracks])
        replaced = [] if cut or self.previous is None else [
            t for t in self.tracks if region_changed(self.previous, gray, t.box, t.motion)]
        self.previous = gray
        if cut or replaced:
            self._end(self.tracks if cut else replaced)
            self.rescans = self.rescans_after_change + 1
        if self.rescans:
            # Whether a detector finds a face varies from frame to frame: a changed picture is
            # scanned again on its next frames, so that a face missed once is not missed for a
            # whole scan period.
            self.rescans -= 1
            elsewhere = True
        scan = cut or elsewhere or self.since_scan + 1 >= self.scan_every
        unmatched = list(self.tracks)
        if scan:
            self.since_scan = 0
            squares, confident = self.detector.detections(gray)
            # confident detections first (ByteTrack's two rounds); a weak one only continues a track
            for box, strong in sorted(zip(squares, confident), key=lambda d: not d[1]):
                box = tuple(int(v) for v in box)
                match = max(unmatched, key=lambda t: iou(box, t.box), default=None)
                if match is not None and iou(box, match.box) >= self.match_iou:
                    unmatched.remove(match)
                    match.move_to(box, self.steady, strong)
                elif not any(iou(box, t.box) >= self.match_iou for t in self.tracks):
                    self.tracks.append(Track(self.next_serial, box, time_s, time_s, confident=bool(strong)))
                    self.every_track.append(self.tracks[-1])
                    self.next_serial += 1
        else:
            self.since_scan += 1
        for track in unmatched:
            found = self.detector.detect_near(gray, track.box)
            if found is None:
                track.missed += 1
            else:
                track.move_to(found[0], self.steady, found[1])
        # a new track missed before it is confirmed was a blip; a candidate lasts a scan period at most
        self._end([t for t in self.tracks if t.missed > (self.max_missed if self._established(t) else 0)
                   or (not t.confident and t.hits >= self.scan_every)])
        self._drop_duplicates()
        picture = gray if frame is None else frame
        for track in self.tracks:
            if track.confirmed:
                if self.people is not None and track.missed == 0 and track.hits in LATER_VIEWS:
                    self.people.remember(track.number, self.embedder.embed(picture, track.box))
            elif self._established(track):
                if self.people is not None and track.missed == 0:
                    track.view = face_view(picture, track.box)
                if track.hits >= self.identify_at:
                    self._number(track)
        return [t for t in self.tracks if t.missed == 0 and t.confident]

    def _established(self, track):
        """Found confidently in its first min_hits frames: confirmed, numbered or waiting to be."""
        return track.confident and track.hits >= self.min_hits

    def _number(self, track):
        """Give a confirmed track its number: its person's (from its latest view), or the next one."""
        if self.people is None:
            track.number, self.next_number = self.next_number, self.next_number + 1
            return
        present = {t.number for t in self.tracks if t.confirmed}
        track.number = self.people.identify(self.embedder.embed(*track.view), present)
        track.view = None

    def identify_waiting(self):
        """Number every confirmed track still waiting to be identified (at the end of a run)."""
        for track in self.tracks:
            if not track.confirmed and self._established(track):
                self._number(track)

    def _drop_duplicates(self):
        """Two tracks that converged on one face: the younger one goes (unnumbered, if it was
        still waiting: its frames are the older one's)."""
        for track in sorted(self.tracks, key=lambda t: t.serial, reverse=True):
            if any(other.serial < track.serial and iou(track.box, other.box) >= 0.5
                   for other in self.tracks):
                self._end([track], identify=False)

    def _end(self, tracks, identify=True):
        """End these tracks; a confirmed one still waiting is identified first, from its last view."""
        for track in list(tracks):
            if identify and not track.confirmed and self._established(track):
                self._number(track)
            track.ended = True
            self.tracks.remove(track)

    def finish(self):
        """Every confirmed track of the run that was labelled at least once, by number."""
        return sorted((t for t in self.every_track if t.confirmed and t.frames), key=lambda t: t.number)
