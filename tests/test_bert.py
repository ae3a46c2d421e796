import torch

from spinlens.detect.bert import Bert
from spinlens.detect.encoder import encoder_path


def test_plain_torch_bert_matches_transformers_on_the_same_weights():
    from transformers import BertModel

    reference = BertModel.from_pretrained(str(encoder_path()), add_pooling_layer=False).eval()
    ours = Bert.from_directory(encoder_path(), n_layers=6)
    torch.manual_seed(0)
    ids = torch.randint(1000, 20000, (3, 40))
    ids[:, 0], ids[:, -1] = 101, 102
    mask = torch.ones_like(ids)
    mask[1, 25:] = 0  # a padded row
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        got = ours(ids, mask)
    assert len(got) == len(expected) == 7
    for layer in (0, 3, 6):
        diff = (got[layer] - expected[layer]).abs()
        assert diff[0].max() < 1e-4 and diff[2].max() < 1e-4
        assert diff[1, :25].max() < 1e-4  # real tokens of the padded row


def test_fewer_layers_load_only_what_they_need():
    three = Bert.from_directory(encoder_path(), n_layers=3)
    assert len(three.layers) == 3


def test_plain_torch_mpnet_matches_transformers_on_the_same_weights(tmp_path):
    """MPNet in `Bert` (position numbering, no token types, the relative-position bias) gives transformers' states;
    a small random MPNet stands in for all-mpnet-base-v2 (404 MB, not in CI), with sequences past the bias's exact
    range (8) and logarithmic range (128)."""
    from transformers import MPNetConfig, MPNetModel

    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=300, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64
    )
    reference = MPNetModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():  # a bias that matters: random, not the near-zero initialisation
        reference.encoder.relative_attention_bias.weight.normal_(0, 1)
    reference.save_pretrained(tmp_path)
    ours = Bert.from_directory(tmp_path, n_layers=3)
    ids = torch.randint(3, 300, (3, 150))
    mask = torch.ones_like(ids)
    ids[1, 100:], mask[1, 100:] = 1, 0  # a padded row
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        got = ours(ids, mask)
        from_layer_1 = ours.run_layers(got[1], mask, 1)
    assert len(got) == len(expected) == 4
    for layer in range(4):
        diff = (got[layer] - expected[layer]).abs()
        assert diff[0].max() < 1e-4 and diff[2].max() < 1e-4
        assert diff[1, :100].max() < 1e-4  # real tokens of the padded row
    assert torch.allclose(from_layer_1[-1], got[3], atol=1e-5)  # resuming from a cached layer gives the same
