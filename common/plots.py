"""Charts saved as PNG: class distribution, training curves, confusion matrix,
emotion over time, emotions by video. Headless (Agg) so they work on servers and in CI."""
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

# seaborn (with scipy, 0.6 s to import) is imported only by the plots that draw with it:
# batch.py and main.py --plot draw timelines, in matplotlib's tab10 colours (seaborn's too).


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_class_distribution(table, path):
    """Bar chart of images per class, one bar colour per split."""
    long = table[["train", "validation"]].reset_index().melt(
        id_vars="class", var_name="split", value_name="images")
    fig, ax = plt.subplots(figsize=(8, 4))
    import seaborn as sns
    sns.barplot(data=long, x="class", y="images", hue="split", ax=ax)
    ax.set_title("Images per class")
    return _save(fig, path)


def plot_history(history, path):
    """Accuracy and loss per epoch, training vs validation, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    epochs = history["epoch"] + 1
    for ax, metric in zip(axes, ("accuracy", "loss")):
        ax.plot(epochs, history[metric], label="train")
        ax.plot(epochs, history[f"val_{metric}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title("Accuracy")
    axes[1].set_title("Loss")
    return _save(fig, path)


def plot_confusion_matrix(matrix, class_names, path, title="Confusion matrix (row-normalised)"):
    """Heatmap of a confusion matrix normalised by row (true class)."""
    totals = matrix.sum(axis=1, keepdims=True)
    normalised = matrix / totals.clip(min=1)
    fig, ax = plt.subplots(figsize=(7, 6))
    import seaborn as sns
    sns.heatmap(normalised, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1,
                xticklabels=class_names, yticklabels=class_names, ax=ax)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _save(fig, path)


def plot_emotion_timeline(faces, class_names, path):
    """Share of each emotion over time, from a per-face DataFrame (time_s + class columns)."""
    fig, ax = plt.subplots(figsize=(10, 4))
    if len(faces):
        step = max(faces["time_s"].max() / 60, 1e-6)  # about 60 bins whatever the length
        binned = faces.assign(t=(faces["time_s"] // step) * step).groupby("t")[class_names].mean()
        ax.stackplot(binned.index, binned.T.values, labels=class_names,
                     colors=plt.get_cmap("tab10").colors[:len(class_names)])
        ax.set_xlim(binned.index.min(), binned.index.max())
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    else:
        ax.text(0.5, 0.5, "no faces found", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mean probability")
    ax.set_title("Emotion over time")
    return _save(fig, path)


def plot_emotion_shares(shares, target):
    """Stacked bars, one per row of `shares` (a video), of each emotion's (column's) share,
    in the timeline's colours; `target` is a path or a binary file object."""
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(shares) + 1.5))
    left = np.zeros(len(shares))
    for column, color in zip(shares.columns, plt.get_cmap("tab10").colors):
        values = shares[column].fillna(0).to_numpy()
        ax.barh([str(name) for name in shares.index], values, left=left, label=column, color=color)
        left += values
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of labelled faces")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(target, format="png", dpi=100)
    plt.close(fig)
