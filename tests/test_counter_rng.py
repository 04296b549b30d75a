import torch

from tasklab.data.counter_rng import SampleRandomness, _hash32_int, hash32, normal, uniform


def test_tensor_hash_matches_python_int_hash():
    values = [0, 1, 2, 12345, 0xFFFFFFFF, 0x80000000, 987654321]
    got = hash32(torch.tensor(values, dtype=torch.int64)).tolist()
    assert got == [_hash32_int(v) for v in values]


def test_uniform_is_a_pure_function_of_its_keys():
    index = torch.arange(10_000)
    a = uniform(7, 3, index)
    assert torch.equal(a, uniform(7, 3, index))
    assert torch.equal(a[5000:5010], uniform(7, 3, torch.arange(5000, 5010)))
    assert not torch.equal(a, uniform(8, 3, index))  # the seed matters
    assert float(a.min()) >= 0.0 and float(a.max()) < 1.0
    assert abs(float(a.mean()) - 0.5) < 0.01
    assert abs(float(a.var()) - 1 / 12) < 0.003


def test_normal_moments():
    z = normal(0, 1, torch.arange(50_000))
    assert abs(float(z.mean())) < 0.02
    assert abs(float(z.std()) - 1.0) < 0.02


def test_sample_fields_are_decorrelated():
    rng = SampleRandomness(0, 0, torch.arange(20_000))
    a, b = rng.uniform(1, 0), rng.uniform(1, 1)
    corr = torch.corrcoef(torch.stack([a, b]))[0, 1]
    assert abs(float(corr)) < 0.03
