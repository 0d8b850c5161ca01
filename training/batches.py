"""Shuffled, augmented training batches for `model.fit` (the only part of the data
pipeline that needs Keras, kept apart so the app can load faces without it)."""
import math

import keras
import numpy as np

from data import AUGMENTATIONS, IMAGE_SIZE, augment_batch


class TrainingBatches(keras.utils.PyDataset):
    """Batches of (images, one-hot labels[, sample weights]) for `model.fit`.

    Reshuffled every epoch; augmentation is seeded per (epoch, batch), so a run
    is reproducible and safe with several workers. From epoch `light_from` (0-based)
    on, augmentation is `light`, without crops, erasing or mixup: the last epochs
    then train on faces close to the plain ones they are scored on. Framing jitter and
    camera degradations (`frame_jitter`, `degrade`) stay to the end: they are how the
    app's faces look. With `soft_labels` (N, classes, rows as the split's), each target
    is that share `soft_weight` of the soft label and the rest one-hot.
    """

    def __init__(self, split, batch_size=32, augment="off", min_crop=IMAGE_SIZE, erase=0.0, mixup=0.0,
                 frame_jitter=0.0, degrade=0.0, shuffle=True, seed=0, class_weights=None, light_from=None,
                 soft_labels=None, soft_weight=0.5, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = split.x, split.y
        self.num_classes = len(split.class_names)
        self.batch_size = batch_size
        # a strength's name; crop jitter, erasing, framing and camera only come with a strength
        camera = {"frame_jitter": frame_jitter, "degrade": degrade}
        self.augment = AUGMENTATIONS[augment] and {**AUGMENTATIONS[augment], "min_crop": min_crop, "erase": erase,
                                                   **camera}
        self.light = self.augment and {**AUGMENTATIONS["light"], "min_crop": IMAGE_SIZE, "erase": 0.0, **camera}
        self.light_from = light_from
        self.mixup = mixup
        self.soft_labels, self.soft_weight = soft_labels, soft_weight
        self.shuffle = shuffle
        self.seed = seed
        self.class_weights = None if class_weights is None else np.asarray(class_weights, np.float32)
        self.epoch = 0
        self.order = self._order()

    def _order(self):
        if not self.shuffle:
            return np.arange(len(self.y))
        return np.random.default_rng((self.seed, self.epoch)).permutation(len(self.y))

    def __len__(self):
        return math.ceil(len(self.y) / self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self.x[rows]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        late = self.light_from is not None and self.epoch >= self.light_from
        augment = self.light if late else self.augment
        if augment:
            x = augment_batch(x, rng, **augment)
        labels = self.y[rows]
        onehot = np.eye(self.num_classes, dtype=np.float32)[labels]
        if self.soft_labels is not None:
            onehot = (1 - self.soft_weight) * onehot + self.soft_weight * self.soft_labels[rows]
        if self.mixup > 0 and not late:
            # mixup (Zhang et al., 2018): each image blended with another of the batch, labels alike
            share = rng.beta(self.mixup, self.mixup, (len(rows), 1)).astype(np.float32)
            other = rng.permutation(len(rows))
            image_share = share.reshape(-1, 1, 1, 1)
            x = image_share * x + (1 - image_share) * x[other]
            onehot = share * onehot + (1 - share) * onehot[other]
        if self.class_weights is None:
            return x, onehot
        return x, onehot, self.class_weights[labels]

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self._order()

    def set_epoch(self, epoch):
        """Continue the shuffling sequence of a resumed run."""
        self.epoch = epoch
        self.order = self._order()
