"""The optimizer panels' pure helpers: number format, lr replacement, torch code from widgets."""

from ui.optimizer_panels import fmt, torch_code, with_lrs


def test_fmt_writes_four_significant_digits_and_leaves_flags_alone():
    assert fmt(0.001234567) == "0.001235"
    assert fmt(1e-5) == "1e-05" and fmt(3) == "3"
    assert fmt(True) == "True" and fmt(None) == "None"


def test_with_lrs_replaces_only_the_found_learning_rates():
    settings = (("sgd", (("lr", 0.01), ("momentum", 0.0))), ("adam", (("lr", 0.001),)))
    assert with_lrs(settings, [0.1, None]) == (
        ("sgd", (("lr", 0.1), ("momentum", 0.0))),
        ("adam", (("lr", 0.001),)),
    )


def test_torch_code_takes_chosen_values_and_keeps_the_fixed_nesterov():
    chosen = {"opt_momentum_lr": 0.05, "opt_momentum_nesterov": True, "opt_sgd_lr": 9.0}
    assert torch_code("momentum", chosen) == (
        "torch.optim.SGD(params, lr=0.05, momentum=0.9, dampening=0, weight_decay=0, "
        "nesterov=False, maximize=False)"
    )


def test_torch_code_writes_strings_and_none_as_python():
    chosen = {"opt_lbfgs_line_search_fn": "strong_wolfe", "opt_lbfgs_max_iter": 7}
    code = torch_code("lbfgs", chosen)
    assert "max_iter=7, max_eval=None" in code and "line_search_fn='strong_wolfe'" in code
    assert torch_code("lbfgs", {}).endswith("line_search_fn=None)")
