"""Synthetic motion: the trajectories, rendering and mp4 writing behind the
offline video datasets (:mod:`mlfd_mm.datasets.offline_video`).

A real 32x32 image is moved, rotated or scaled over a noisy background along
a trajectory drawn from a seeded random generator, and the frames are
written as mp4 files (MPEG-4 part 2, ``mp4v``) that decord decodes.
"""
import cv2
import numpy as np

CANVAS_SIZE = 64  # decord 0.6 mis-decodes some widths (16, 24, 48, 72 px)
OBJECT_SIZE = 32  # the offline images are 32x32
NUM_FRAMES = 16
FPS = 8

COMPASS = ('E', 'NE', 'N', 'NW', 'W', 'SW', 'S', 'SE')
KINDS_OF_MOTION = ('rotate_cw', 'rotate_ccw', 'zoom_in', 'zoom_out', 'shake',
                   'static')
OBJECT_MOTIONS = ('slide', 'spin')


# --------------------------------------------------------------------------
# Trajectories: one pose per frame, an array of shape (T, 4) holding the
# object's centre x, centre y (canvas pixels), angle (degrees,
# counter-clockwise on screen, OpenCV's convention) and scale. The order of
# the random draws is part of the dataset: changing it changes every clip
# (bump offline_video.GENERATOR_VERSION).
# --------------------------------------------------------------------------
def _poses(centres: np.ndarray, angle, scale) -> np.ndarray:
    """Stack (T, 2) centres with angles and scales (scalars or (T, ))."""
    poses = np.empty((len(centres), 4), dtype=np.float64)
    poses[:, :2] = centres
    poses[:, 2] = angle
    poses[:, 3] = scale
    return poses


def _straight_path(rng: np.random.Generator, velocity: np.ndarray,
                   num_frames: int, scale: float) -> np.ndarray:
    """Centres of a straight path that keeps the object inside the canvas.

    Args:
        velocity (np.ndarray): (vx, vy) in pixels per frame.

    Returns:
        np.ndarray: Shape (T, 2).
    """
    half = OBJECT_SIZE * scale / 2
    travel = velocity * (num_frames - 1)
    start = np.empty(2)
    for axis in range(2):
        low = half + max(0.0, -travel[axis])
        high = CANVAS_SIZE - half - max(0.0, travel[axis])
        # A path longer than the free space is centred: the object then
        # crosses the border a little, which is still a clear motion.
        start[axis] = rng.uniform(low, high) if high > low else (
            (CANVAS_SIZE - travel[axis]) / 2)
    steps = np.arange(num_frames)[:, None]
    return start[None, :] + steps * velocity[None, :]


def _direction_trajectory(rng: np.random.Generator, label: int,
                          num_frames: int) -> np.ndarray:
    theta = np.deg2rad(45.0 * label)
    # Slow: the object travels 9 to 18 px on the canvas, 4 to 9 px at the
    # 32 px the models see.
    speed = rng.uniform(0.6, 1.2)
    # The image y axis points down: north is -y.
    velocity = speed * np.array([np.cos(theta), -np.sin(theta)])
    scale = rng.uniform(0.8, 1.0)
    angle = rng.uniform(-15, 15)
    centres = _straight_path(rng, velocity, num_frames, scale)
    centres += rng.normal(0, 1.0, size=(num_frames, 2))
    return _poses(centres, angle, scale)


def _motion_trajectory(rng: np.random.Generator, label: int,
                       num_frames: int) -> np.ndarray:
    kind = KINDS_OF_MOTION[label]
    steps = np.arange(num_frames)
    # Large objects and strong motions: the models see the canvas at 32 px.
    scale0 = rng.uniform(0.95, 1.15)
    angle0 = rng.uniform(-30, 30)
    # Every kind drifts a little, so that "static" is not "nothing moves".
    drift_dir = rng.uniform(0, 2 * np.pi)
    drift = rng.uniform(0.0, 0.3) * np.array(
        [np.cos(drift_dir), np.sin(drift_dir)])
    poses = _poses(_straight_path(rng, drift, num_frames, scale0), angle0,
                   scale0)
    if kind in ('rotate_cw', 'rotate_ccw'):
        omega = rng.uniform(8.0, 14.0) * (-1 if kind == 'rotate_cw' else 1)
        poses[:, 2] += omega * steps
    elif kind in ('zoom_in', 'zoom_out'):
        # The scale grows geometrically from 0.75 * scale0 by a factor of
        # 1.6 to 2.0 (zoom in), or shrinks back the same way (zoom out).
        growth = rng.uniform(1.6, 2.0)**(steps / (num_frames - 1))
        zoom = 0.75 * scale0 * growth
        poses[:, 3] = zoom if kind == 'zoom_in' else zoom[::-1]
    elif kind == 'shake':
        poses[:, :2] += rng.normal(0, 3.0, size=(num_frames, 2))
        poses[:, 2] += rng.normal(0, 8.0, size=num_frames)
    return poses


def _objmotion_trajectory(rng: np.random.Generator, label: int,
                          num_frames: int) -> np.ndarray:
    motion = OBJECT_MOTIONS[label % len(OBJECT_MOTIONS)]
    steps = np.arange(num_frames)
    # Large: the models see the 64 px canvas at 32 px.
    scale = rng.uniform(1.1, 1.3)
    if motion == 'slide':
        # upright, along a straight line in any direction
        theta = rng.uniform(0, 2 * np.pi)
        velocity = rng.uniform(0.6, 1.2) * np.array(
            [np.cos(theta), np.sin(theta)])
        angle = rng.uniform(-10, 10)
        return _poses(_straight_path(rng, velocity, num_frames, scale),
                      angle, scale)
    # spin: in place, turning either way, so most frames are tilted
    angle0 = rng.uniform(-10, 10)
    centres = _straight_path(rng, np.zeros(2), num_frames, scale)
    omega = rng.uniform(7.0, 12.0) * rng.choice((-1, 1))
    return _poses(centres, angle0 + omega * steps, scale)


TRAJECTORIES = dict(
    direction=_direction_trajectory,
    motion=_motion_trajectory,
    objmotion=_objmotion_trajectory)


# --------------------------------------------------------------------------
# Rendering and writing.
# --------------------------------------------------------------------------
def render_clip(rng: np.random.Generator, object_alpha: np.ndarray,
                 poses: np.ndarray) -> np.ndarray:
    """Draw the object at each pose over a noisy background.

    Args:
        object_alpha (np.ndarray): The source image as coverage in [0, 1],
            shape (32, 32). The offline images are bright objects on a dark
            background, so the intensity is the object's coverage.
        poses (np.ndarray): Shape (T, 4), see the trajectories above.

    Returns:
        np.ndarray: RGB frames, uint8, shape (T, H, W, 3).
    """
    size = CANVAS_SIZE
    # Static background: a grey level plus a smooth random pattern; each
    # frame adds its own sensor-like noise.
    pattern = cv2.resize(
        rng.normal(0, rng.uniform(4, 15), size=(4, 4)), (size, size),
        interpolation=cv2.INTER_CUBIC)
    background = rng.uniform(0, 70) + pattern[..., None]
    colour = rng.uniform(150, 255, size=3)
    opacity = rng.uniform(0.8, 1.0)
    noise_std = rng.uniform(4, 14)
    centre = (OBJECT_SIZE - 1) / 2
    frames = np.empty((len(poses), size, size, 3), dtype=np.uint8)
    for t, (cx, cy, angle, scale) in enumerate(poses):
        warp = cv2.getRotationMatrix2D((centre, centre), angle, scale)
        warp[:, 2] += (cx - centre, cy - centre)
        alpha = cv2.warpAffine(
            object_alpha, warp, (size, size), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
        alpha *= opacity
        frame = background * (1 - alpha) + colour * alpha
        frame += rng.normal(0, noise_std, size=frame.shape)
        frames[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return frames


def write_mp4(path: str, frames: np.ndarray) -> None:
    """Write RGB frames (T, H, W, 3) as an mp4 (MPEG-4 part 2) file."""
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), FPS,
                             (width, height))
    if not writer.isOpened():
        raise RuntimeError(
            f'OpenCV cannot open an mp4v video writer for {path}: this '
            'opencv-python build lacks the FFmpeg mp4v encoder')
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def check_decodes(path: str, num_frames: int) -> None:
    """Decode one written clip with decord, as mmaction2 will."""
    import decord
    reader = decord.VideoReader(path)
    shape = reader[0].shape
    if len(reader) != num_frames or shape != (CANVAS_SIZE, CANVAS_SIZE, 3):
        raise RuntimeError(
            f'{path}: decord reads {len(reader)} frames of shape {shape}, '
            f'expected {num_frames} frames of shape '
            f'{(CANVAS_SIZE, CANVAS_SIZE, 3)}')
