"""Parameterizations and transforms against closed-form facts."""

import math

import torch

from featurelens.rendering.color import COLOR_MATRIX, decorrelated_to_rgb, rgb_to_decorrelated
from featurelens.rendering.param import FourierImage, MacoImage, PixelImage, rfft2_frequencies
from featurelens.rendering.spectrum import natural_magnitude
from featurelens.rendering.transforms import RobustnessTransform


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_colour_matrix_is_lucids_normalised_svd_sqrt():
    svd_sqrt = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
    column_norms = svd_sqrt.norm(dim=0)
    assert torch.allclose(COLOR_MATRIX, svd_sqrt / column_norms.max())
    assert math.isclose(COLOR_MATRIX.norm(dim=0).max().item(), 1.0, rel_tol=1e-6)
    # First axis is (almost) luminance: equal weights on R, G, B.
    assert torch.allclose(COLOR_MATRIX[:, 0], COLOR_MATRIX[0, 0].expand(3), atol=0.04)


def test_colour_decorrelation_inverts_exactly():
    x = torch.randn(2, 3, 5, 7)
    assert torch.allclose(rgb_to_decorrelated(decorrelated_to_rgb(x)), x, atol=1e-5)
    grey = torch.randn(2, 1, 5, 5)
    assert torch.equal(decorrelated_to_rgb(grey), grey)


def test_fourier_scaling_is_one_over_frequency():
    size = 16
    image = FourierImage(1, 3, size, generator())
    freqs = rfft2_frequencies(size, size)
    assert freqs[0, 0] == 0 and math.isclose(freqs[0, 1].item(), 1 / size)
    expected = size / freqs.clamp_min(1 / size)
    assert torch.allclose(image.scale, expected)


def test_fourier_parameterization_inverse_round_trips():
    target = torch.rand(2, 3, 32, 32, generator=generator(3)) * 0.9 + 0.05
    for image in (FourierImage(2, 3, 32, generator()), FourierImage(2, 3, 32, generator(), decorrelate=False), PixelImage(2, 3, 32, generator())):
        image.set_image(target)
        assert torch.allclose(image(), target, atol=1e-4), type(image).__name__


def test_fourier_image_of_a_single_coefficient_is_a_cosine():
    size = 16
    image = FourierImage(1, 1, size, generator(), decorrelate=False)
    with torch.no_grad():
        image.spectrum.zero_()
        image.spectrum[0, 0, 0, 2, 0] = 1.0  # real coefficient at horizontal frequency 2/size
    raw = torch.logit(image()[0, 0].double())
    x = torch.arange(size, dtype=torch.float64)
    amplitude = 2 * image.scale[0, 2].item() / (size * size) / 4.0
    expected = amplitude * torch.cos(2 * math.pi * 2 * x / size).expand(size, size)
    assert torch.allclose(raw, expected, atol=1e-5)


def test_maco_keeps_the_natural_magnitude_and_only_moves_phase():
    size = 32
    magnitude = natural_magnitude(size)
    image = MacoImage(2, 3, size, generator(), magnitude)
    raw = rgb_to_decorrelated(torch.logit(image().double().clamp(1e-9, 1 - 1e-9)).float())
    spectrum = torch.fft.rfft2(raw).abs()
    # Columns 0 and size/2 are self-conjugate (irfft2 drops part of them): compare the free ones.
    ratio = spectrum[..., 1:-1] / magnitude[..., 1:-1]
    # Standardising the image rescales each spectrum by one constant: the shape is the natural one.
    per_image = ratio.flatten(1)
    assert (per_image.std(1) / per_image.mean(1)).max() < 1e-3


def test_transform_with_no_randomness_is_identity():
    identity = RobustnessTransform(pad=0, jitter=0, scales=(1.0,), angles=(0,))
    x = torch.rand(2, 3, 20, 20, generator=generator())
    assert torch.allclose(identity(x, generator()), x, atol=1e-5)


def test_transform_pads_with_grey_and_keeps_the_centre():
    pad_only = RobustnessTransform(pad=4, jitter=0, scales=(1.0,), angles=(0,))
    x = torch.rand(1, 3, 10, 10, generator=generator())
    out = pad_only(x, generator())
    assert out.shape[-1] == 18
    assert torch.allclose(out[..., 4:14, 4:14], x, atol=1e-5)
    assert torch.allclose(out[..., :4, :], torch.full_like(out[..., :4, :], 0.5))


def test_transform_rotation_by_90_degrees_matches_rot90():
    rotate = RobustnessTransform(pad=0, jitter=0, scales=(1.0,), angles=(90,))
    x = torch.rand(1, 1, 9, 9, generator=generator())
    out = rotate(x, generator())
    assert torch.allclose(out, torch.rot90(x, 1, dims=(2, 3)), atol=1e-4) or torch.allclose(out, torch.rot90(x, -1, dims=(2, 3)), atol=1e-4)
