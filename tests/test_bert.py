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
