"""What the attacker already knows: a *face prior* learned from public photos of other people (lab 08).

Since GMI (Zhang et al., CVPR 2020) the inversion attacks that matter do not search all 4,096 pixels: they learn
what faces look like from public photos and search only among face-like images, through a generator G(z) from a
small latent vector z. Two priors, both learned from the public people's photos only (never a private person's):

- `PCAPrior` (eigenfaces): G(z) = mean face + z · principal directions, z in units of each direction's spread.
  Linear: it can express any blend of the public faces' variations and nothing outside their span (about as many
  directions as it keeps); it draws a face's broad shape and lighting well and fine detail poorly.
- `GeneratorPrior`: the decoder of a small convolutional variational autoencoder (VAE). Non-linear: it bends its
  space to faces (sharper shapes for the same size of z), but it only knows the 20 public people's 200 photos
  (with mirror images and small shifts), so it blurs, and it cannot draw what none of them shows.

Both map z ~ N(0, I) to a (n, 4096) image in [0, 1], so every attack can sample faces, start anywhere on the prior
and step in z. Trained weights are cached under data/cache/models/, like the targets.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..compute import one_thread
from ..data.face_photos import FaceData
from ..paths import cache_dir, cache_lock, save_atomically

N_PIXELS = 4096


def public_photos(public: FaceData, mirror: bool = True) -> np.ndarray:
    """Every photo of the public people (training and held-out alike: the attacker holds them all), (n, 4096)."""
    images = public.images.reshape(len(public.images), -1)
    if mirror:
        images = np.concatenate([images, public.images[:, :, ::-1].reshape(len(public.images), -1)])
    return images.astype(np.float32)


class FacePrior:
    """A map from a latent vector z (n, dim), z ~ N(0, I), to face images (n, 4096) in [0, 1]."""

    name = "prior"
    dim: int

    def decode_torch(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) as a differentiable tensor (n, 4096) in [0, 1]."""
        raise NotImplementedError

    def decode(self, z: np.ndarray | torch.Tensor) -> np.ndarray:
        """G(z) as a float32 array (n, 4096) in [0, 1]."""
        with torch.no_grad():
            return self.decode_torch(torch.as_tensor(np.asarray(z, dtype=np.float32))).numpy()

    def encode(self, images: np.ndarray) -> np.ndarray:
        """The latent vector whose image is closest to each given image (n, dim)."""
        raise NotImplementedError

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n random latent vectors z ~ N(0, I)."""
        return np.random.default_rng(seed).standard_normal((n, self.dim)).astype(np.float32)


@dataclass
class PCAPrior(FacePrior):
    """Eigenfaces of the public photos: G(z) = mean + z @ (spread · directions), clipped to [0, 1]."""

    mean: np.ndarray  # (4096,)
    directions: np.ndarray  # (dim, 4096), orthonormal rows
    spread: np.ndarray  # (dim,), the standard deviation of the photos along each direction
    explained: float  # share of the photos' variance the kept directions explain
    name: str = "PCA (eigenfaces)"

    def __post_init__(self):
        self.dim = len(self.spread)
        self._mean = torch.as_tensor(self.mean, dtype=torch.float32)
        self._scaled = torch.as_tensor(self.spread[:, None] * self.directions, dtype=torch.float32)

    def decode_torch(self, z: torch.Tensor) -> torch.Tensor:
        return (self._mean + z @ self._scaled).clamp(0, 1)

    def encode(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32).reshape(len(images), -1) - self.mean
        return ((x @ self.directions.T) / self.spread).astype(np.float32)


def fit_pca_prior(public: FaceData, dim: int = 60) -> PCAPrior:
    """Eigenfaces of the public people's photos (and their mirror images); the first `dim` directions."""
    x = public_photos(public)
    if not 1 <= dim < len(x):
        raise ValueError(f"dim must be from 1 to {len(x) - 1} (the public photos); got {dim}.")
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    spread = s / np.sqrt(len(x) - 1)
    return PCAPrior(mean, vt[:dim].astype(np.float32), spread[:dim].astype(np.float32),
                    float((s[:dim] ** 2).sum() / (s ** 2).sum()))


class FaceVAE(nn.Module):
    """A small convolutional VAE for 64x64 faces: 4 stride-2 convolutions down to z, 4 transposed ones back."""

    def __init__(self, dim: int = 32, width: int = 8):
        super().__init__()
        w = width
        self.dim, self.width = dim, width
        self.encoder = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4 * w, 4 * w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(4 * w * 16, 2 * dim))
        self.decoder = nn.Sequential(
            nn.Linear(dim, 4 * w * 16), nn.Unflatten(1, (4 * w, 4, 4)), nn.ReLU(),
            nn.ConvTranspose2d(4 * w, 4 * w, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(w, 1, 4, 2, 1), nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encoder(x.reshape(-1, 1, 64, 64)).chunk(2, dim=1)
        return mu, log_var.clamp(-8, 8)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).reshape(-1, N_PIXELS)


@dataclass
class GeneratorPrior(FacePrior):
    """The decoder of a small VAE trained on the public photos: G(z) = decoder(z)."""

    vae: FaceVAE
    train_seconds: float
    from_cache: bool
    reconstruction_error: float  # mean absolute pixel error on the public photos it was trained on
    name: str = "generator (VAE)"

    def __post_init__(self):
        self.dim = self.vae.dim
        self.vae.eval()
        for p in self.vae.parameters():
            p.requires_grad_(False)

    def decode_torch(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z)

    def encode(self, images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.vae.encode(torch.as_tensor(np.asarray(images, dtype=np.float32)))[0].numpy()


def _shifted(x: torch.Tensor, g: torch.Generator, most: int = 3) -> torch.Tensor:
    """Each image moved by up to `most` pixels in each direction (edges repeated)."""
    padded = F.pad(x.reshape(-1, 1, 64, 64), (most,) * 4, mode="replicate")
    dx, dy = torch.randint(0, 2 * most + 1, (2,), generator=g).tolist()
    return padded[:, :, dy:dy + 64, dx:dx + 64].reshape(-1, N_PIXELS)


def train_generator_prior(public: FaceData, dim: int = 32, epochs: int = 40, seed: int = 0,
                          progress: bool = True, width: int = 8) -> GeneratorPrior:
    """A VAE on the public photos (mirrored, shifted), about 12 seconds on one CPU, then loaded from data/cache/.

    Small on purpose (8 channels, 40 epochs): measured on lab 08, a VAE twice as wide trained 2.5 times as long
    (about a minute) was no closer to the eigenface prior, which beats both; what fits a lab's first run is enough
    to show what a learned generator does and does not buy."""
    from tqdm.auto import tqdm

    x = torch.as_tensor(public_photos(public))
    digest = hashlib.sha1(np.asarray(public.people, dtype=np.int64).tobytes()).hexdigest()[:8]
    path = cache_dir() / "models" / f"face-vae-d{dim}-w{width}-e{epochs}-s{seed}-people{digest}.pt"
    torch.manual_seed(seed)
    vae, start = FaceVAE(dim, width), time.perf_counter()
    with cache_lock(path):
        cached = path.exists()
        if cached:
            vae.load_state_dict(torch.load(path, weights_only=True))
        else:
            g = torch.Generator().manual_seed(seed)
            opt = torch.optim.Adam(vae.parameters(), 3e-3)
            with one_thread():
                for epoch in tqdm(range(epochs), desc="training the face generator (VAE)", disable=not progress,
                                  leave=False):
                    vae.train()
                    beta = min(1.0, epoch / (epochs / 3))  # KL warm-up: first learn to draw, then to be a prior
                    order = torch.randperm(len(x), generator=g)
                    for b in range(0, len(x), 50):
                        batch = _shifted(x[order[b:b + 50]], g)
                        mu, log_var = vae.encode(batch)
                        z = mu + torch.randn(mu.shape, generator=g) * (0.5 * log_var).exp()
                        rec = F.binary_cross_entropy(vae.decode(z), batch, reduction="sum") / len(batch)
                        kl = -0.5 * (1 + log_var - mu ** 2 - log_var.exp()).sum() / len(batch)
                        opt.zero_grad()
                        (rec + beta * kl).backward()
                        opt.step()
            save_atomically(path, lambda p: torch.save(vae.state_dict(), p))
    vae.eval()
    with torch.no_grad():
        error = float((vae.decode(vae.encode(x)[0]) - x).abs().mean())
    return GeneratorPrior(vae, time.perf_counter() - start, cached, error)


def nearest_public(images: np.ndarray, public: FaceData) -> np.ndarray:
    """For each image, the public photo closest to it in pixels (n, 4096): what an attack that returns faces it
    already holds would produce."""
    x = public_photos(public, mirror=False)
    images = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    d = ((images ** 2).sum(1)[:, None] - 2 * images @ x.T + (x ** 2).sum(1)[None, :])
    return x[d.argmin(1)]
