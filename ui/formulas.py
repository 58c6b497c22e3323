"""The formulas users see, as LaTeX, one table per registry and keyed like it (a test checks
that every registry entry has one). Presentation, so not in ``core/``; no streamlit."""

import re

# A comma or semicolon followed by a wide space (backslash-space, quad, qquad) ends a statement; a
# comma followed by a thin space is inside one, as between a function's arguments.
_STATEMENT_END = re.compile(r"[,;]\s*\\(?:qquad|quad|\s)\s*")


def stacked(latex: str) -> str:
    r"""``latex`` with one statement per line where it chains several (``a = …,\ b = …``).

    A chain in one line ran past the right edge of a formula card on a projector's narrow page.
    Statements are split only outside brackets of any kind and ``\left … \right`` pairs.
    """
    lines, start, depth = [], 0, 0
    for match in re.finditer(r"\\left\b|\\right\b|[{}()[\]]|" + _STATEMENT_END.pattern, latex):
        token = match.group()
        if token in ("{", "(", "[", r"\left"):
            depth += 1
        elif token in ("}", ")", "]", r"\right"):
            depth = max(depth - 1, 0)
        elif depth == 0:
            lines.append(latex[start : match.start()])
            start = match.end()
    if not lines:
        return latex
    lines.append(latex[start:])
    return r"\begin{gathered}" + r" \\ ".join(lines) + r"\end{gathered}"


ACTIVATION_FORMULAS = {
    "identity": r"f(z) = z",
    "sigmoid": r"\sigma(z) = \frac{1}{1 + e^{-z}}, \qquad \sigma'(z) = \sigma(z)\,\bigl(1 - \sigma(z)\bigr) \le \tfrac14",
    "tanh": r"\tanh z = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}, \qquad \tanh' z = 1 - \tanh^2 z",
    "relu": r"\operatorname{ReLU}(z) = \max(0, z)",
    "leaky_relu": r"f(z) = \begin{cases} z & z \ge 0 \\ a\,z & z < 0 \end{cases}, \quad a = \texttt{negative\_slope}",
    "relu6": r"\operatorname{ReLU6}(z) = \min\bigl(\max(0, z), 6\bigr)",
    "hardtanh": r"f(z) = \operatorname{clip}(z,\ \texttt{min\_val},\ \texttt{max\_val})",
    "hardsigmoid": r"f(z) = \operatorname{clip}\bigl(z/6 + 1/2,\ 0,\ 1\bigr)",
    "softsign": r"f(z) = \frac{z}{1 + |z|}",
    "elu": r"f(z) = \begin{cases} z & z > 0 \\ \alpha\,(e^{z} - 1) & z \le 0 \end{cases}",
    "selu": r"f(z) = \lambda \begin{cases} z & z > 0 \\ \alpha\,(e^{z} - 1) & z \le 0 \end{cases}, \ \lambda \approx 1.0507,\ \alpha \approx 1.6733",
    "gelu": r"f(z) = z\,\Phi(z) \;\approx\; \tfrac12 z \Bigl(1 + \tanh\bigl[\sqrt{2/\pi}\,(z + 0.044715 z^3)\bigr]\Bigr)",
    "silu": r"f(z) = z\,\sigma(\beta z)",
    "softplus": r"f(z) = \tfrac{1}{\beta} \log\bigl(1 + e^{\beta z}\bigr) \quad (= z \text{ if } \beta z > \texttt{threshold})",
    "mish": r"f(z) = z \tanh\bigl(\operatorname{softplus}(z)\bigr)",
}

LOSS_FORMULAS = {
    "mse": r"\ell = (\hat y - y)^2",
    "mae": r"\ell = |\hat y - y|",
    "huber": r"\ell = \begin{cases} \tfrac12 r^2 & |r| < \delta \\ \delta\,(|r| - \tfrac12 \delta) & \text{otherwise} \end{cases}, \quad r = \hat y - y",
    "smooth_l1": r"\ell = \begin{cases} \tfrac12 r^2 / \beta & |r| < \beta \\ |r| - \tfrac12 \beta & \text{otherwise} \end{cases}, \quad r = \hat y - y",
    "log_cosh": r"\ell = \log \cosh r = |r| + \log\bigl(1 + e^{-2|r|}\bigr) - \log 2, \quad r = \hat y - y",
    "bce": r"\ell = -\bigl[y \log p + (1 - y) \log(1 - p)\bigr]",
    "bce_with_logits": r"\ell = \max(z, 0) - z\,y + \log\bigl(1 + e^{-|z|}\bigr) \quad (p = \sigma(z))",
    "cross_entropy": r"\ell = -\sum_c y_c \log \operatorname{softmax}(z)_c = \operatorname{logsumexp}(z) - z_{\text{label}}"
    r"\quad (\text{label\_smoothing } \varepsilon\text{: } y \leftarrow (1-\varepsilon)\, y + \varepsilon / C)",
    "nll_loss": r"\ell = -\log q_{\text{label}} = -\sum_c y_c \log q_c \quad (\log q = \text{log-probabilities})",
    "kl_div": r"\ell = \sum_c y_c \bigl(\log y_c - \log q_c\bigr)",
    "hinge": r"\ell = \max(0,\ 1 - y f), \quad \frac{\partial \ell}{\partial f} = -y\,[\,y f \le 1\,], \quad y \in \{-1, +1\}",
    "squared_hinge": r"\ell = \max(0,\ 1 - y f)^2, \quad y \in \{-1, +1\}",
    "contrastive": r"\ell = \tfrac12 \bigl[y\,d^2 + (1 - y) \max(0,\ m - d)^2\bigr]",
}

INITIALIZER_FORMULAS = {
    "zeros": r"W_{ij} = 0",
    "ones": r"W_{ij} = 1",
    "constant": r"W_{ij} = \text{val}",
    "eye": r"W_{ij} = [\,i = j\,] \quad (\text{identity; } i < \min(\text{fan\_in}, \text{fan\_out}))",
    "uniform": r"W_{ij} \sim \mathcal{U}(a,\ b)",
    "normal": r"W_{ij} \sim \mathcal{N}(\text{mean},\ \text{std}^2)",
    "trunc_normal": r"W_{ij} \sim \mathcal{N}(\text{mean},\ \text{std}^2)"
    r"\ \text{truncated to}\ [a,\ b]",
    "xavier_uniform": r"W_{ij} \sim \mathcal{U}(-b,\ b),\quad "
    r"b = \text{gain}\cdot\sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}",
    "xavier_normal": r"W_{ij} \sim \mathcal{N}(0,\ \sigma^2),\quad "
    r"\sigma = \text{gain}\cdot\sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}",
    "kaiming_uniform": r"W_{ij} \sim \mathcal{U}(-b,\ b),\quad "
    r"b = \text{gain}\cdot\sqrt{\frac{3}{\text{fan\_mode}}},\quad \text{gain} = \sqrt{\frac{2}{1+a^2}}"
    r"\ \text{(ReLU family)}",
    "kaiming_normal": r"W_{ij} \sim \mathcal{N}(0,\ \sigma^2),\quad "
    r"\sigma = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}},\quad \text{gain} = \sqrt{\frac{2}{1+a^2}}"
    r"\ \text{(ReLU family)}",
    "orthogonal": r"W = \text{gain}\cdot Q,\quad Q^\top Q = I\ \ (Q\ \text{from the QR of a "
    r"Gaussian matrix})",
    "sparse": r"W_{ij} \sim \mathcal{N}(0,\ \text{std}^2),\ \text{then } \lceil \text{sparsity} \cdot "
    r"\text{fan\_out} \rceil \text{ random } W_{ij} \text{ of every input } i \text{ set to } 0",
    "lecun_normal": r"W_{ij} \sim \mathcal{N}(0,\ \sigma^2),\quad \sigma = \frac{1}{\sqrt{\text{fan\_in}}}",
}

SCHEDULE_FORMULAS = {
    "constant_lr": r"\eta_t = \begin{cases}\eta_0\cdot\text{factor} & t < \text{total\_iters}"
    r"\\ \eta_0 & t \ge \text{total\_iters}\end{cases}",
    "linear_lr": r"\eta_t = \eta_0\left(s + (e - s)\,\frac{\min(t,\,\text{total\_iters})}"
    r"{\text{total\_iters}}\right),\quad s=\text{start\_factor},\ e=\text{end\_factor}",
    "step_lr": r"\eta_t = \eta_0\,\gamma^{\lfloor t / \text{step\_size}\rfloor}",
    "multi_step_lr": r"\eta_t = \eta_0\,\gamma^{\#\{m \in \text{milestones}\,:\, m \le t\}}",
    "exponential_lr": r"\eta_t = \eta_0\,\gamma^{t}",
    "polynomial_lr": r"\eta_t = \eta_0\left(1 - \frac{\min(t,\,\text{total\_iters})}"
    r"{\text{total\_iters}}\right)^{\text{power}}",
    "cosine_annealing_lr": r"\eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})"
    r"\left(1 + \cos\frac{\pi t}{T_{\max}}\right)",
    "cosine_annealing_warm_restarts": r"\eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})"
    r"\left(1 + \cos\frac{\pi T_{cur}}{T_i}\right),\quad T_i = T_0\,T_{mult}^{\,i}",
    "cyclic_lr": r"\eta_t = \text{base\_lr} + (\text{max\_lr} - \text{base\_lr})"
    r"\cdot\max(0,\,1 - |x|)\cdot\text{scale},\ \ x = \text{position in the cycle}",
    "one_cycle_lr": r"\eta:\ \tfrac{\text{max\_lr}}{\text{div\_factor}} \nearrow \text{max\_lr}"
    r"\searrow \tfrac{\text{max\_lr}}{\text{div\_factor}\cdot\text{final\_div\_factor}}"
    r"\quad(\text{cos or linear})",
    "chained_scheduler": r"\eta_t = \eta_0 \prod_i \frac{\text{scheduler}_i(t)}{\eta_0}",
    "reduce_lr_on_plateau": r"\eta_{e+1} = \begin{cases} \max(\text{factor}\cdot\eta_e,\ "
    r"\text{min\_lr}) & b_e > \text{patience} \\ \eta_e & b_e \le \text{patience} \end{cases}",
    "sequential_lr": r"\eta_t = \text{scheduler}_i\,(t - m_i)\quad\text{for}\ m_i \le t < m_{i+1},"
    r"\ \ m_0 = 0,\ m_1, m_2, \ldots = \text{milestones}",
    "lambda_lr": r"\eta_t = \eta_0\cdot\lambda(t)",
    "multiplicative_lr": r"\eta_t = \eta_{t-1}\cdot\lambda(t) = \eta_0\prod_{k=1}^{t}\lambda(k)",
}

# Update rules as in the algorithm boxes of the torch.optim docs (g_t = ∇f(θ_{t-1}), γ = lr).
OPTIMIZER_FORMULAS = {
    "sgd": r"\theta_t = \theta_{t-1} - \gamma\, g_t",
    "momentum": r"b_t = \mu\, b_{t-1} + (1-\tau)\, g_t, \qquad \theta_t = \theta_{t-1} - \gamma\, b_t"
    r"\quad (b_1 = g_1)",
    "nesterov": r"b_t = \mu\, b_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \gamma\,(g_t + \mu\, b_t)",
    "asgd": r"\theta_t = \theta_{t-1}(1-\lambda\eta_{t-1}) - \eta_{t-1} g_t,\ "
    r"\eta_t = \frac{\gamma}{(1+\lambda\gamma t)^{\alpha}},\ "
    r"\bar\theta_t = \bar\theta_{t-1} + \frac{\theta_t - \bar\theta_{t-1}}{\max(1,\, t-1-t_0)}"
    r"\quad (\eta_0 = \gamma)",
    "rprop": r"\eta_t = \begin{cases}\min(\eta_{t-1}\eta_+, \Gamma_{max}) & g_{t-1} g_t > 0\\ "
    r"\max(\eta_{t-1}\eta_-, \Gamma_{min}),\ g_t \leftarrow 0 & g_{t-1} g_t < 0\\ "
    r"\eta_{t-1} & \text{else}\end{cases},\quad "
    r"\theta_t = \theta_{t-1} - \eta_t \operatorname{sign}(g_t)\quad (\eta_0 = \gamma)",
    "adagrad": r"\tilde\gamma = \frac{\gamma}{1+(t-1)\eta}, \quad s_t = s_{t-1} + g_t^2, \quad "
    r"\theta_t = \theta_{t-1} - \tilde\gamma\, \frac{g_t}{\sqrt{s_t}+\epsilon}",
    "rmsprop": r"v_t = \alpha\, v_{t-1} + (1-\alpha)\, g_t^2, \qquad "
    r"\theta_t = \theta_{t-1} - \gamma\, \frac{g_t}{\sqrt{v_t}+\epsilon}",
    "adadelta": r"v_t = \rho v_{t-1} + (1-\rho) g_t^2,\ \ \Delta_t = "
    r"\frac{\sqrt{u_{t-1}+\epsilon}}{\sqrt{v_t+\epsilon}}\, g_t,\ \ "
    r"u_t = \rho u_{t-1} + (1-\rho)\Delta_t^2,\ \ \theta_t = \theta_{t-1} - \gamma \Delta_t",
    "adam": r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\ "
    r"\hat m_t = \frac{m_t}{1-\beta_1^t},\ \hat v_t = \frac{v_t}{1-\beta_2^t},\ "
    r"\theta_t = \theta_{t-1} - \gamma \frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}",
    "adamw": r"\theta \leftarrow \theta_{t-1}(1-\gamma\lambda), \quad "
    r"\theta_t = \theta - \gamma \frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}"
    r"\quad (\hat m_t, \hat v_t \text{ as in Adam})",
    "nadam": r"\mu_t = \beta_1\left(1 - \tfrac12\, 0.96^{t\psi}\right),\ "
    r"\hat m_t = \frac{\mu_{t+1} m_t}{1-\prod_{i=1}^{t+1}\mu_i} + "
    r"\frac{(1-\mu_t) g_t}{1-\prod_{i=1}^{t}\mu_i},\ "
    r"\theta_t = \theta_{t-1} - \gamma \frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}",
    "radam": r"\rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t};\ "
    r"\theta_t = \theta_{t-1} - \gamma\, \hat m_t\, r_t\, \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon}"
    r"\text{ if } \rho_t > 5, \text{ else } \theta_{t-1} - \gamma \hat m_t",
    "adamax": r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ u_t = \max(\beta_2 u_{t-1}, |g_t|+\epsilon),\ "
    r"\theta_t = \theta_{t-1} - \frac{\gamma}{1-\beta_1^t} \frac{m_t}{u_t}",
    "adafactor": r"\hat\beta_{2t} = 1 - t^{\tau},\ \rho_t = \min(\gamma, 1/\sqrt t),\ "
    r"\alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\rho_t,\ "
    r"\hat V_t = \frac{R_t C_t}{\max(\bar R_t, \epsilon_1)} \text{ (matrix: row/column means of } g^2),\ "
    r"U_t = \frac{g_t}{\max(\sqrt{\hat V_t}, \epsilon_1)},\ "
    r"\theta_t = \theta_{t-1}(1-\gamma\lambda) - \frac{\alpha_t U_t}{\max(1, \mathrm{RMS}(U_t)/d)}",
    "muon": r"B_t = \mu B_{t-1} + g_t,\ \tilde B_t = g_t + \mu B_t \text{ (nesterov)},\ "
    r"O_t = \mathrm{NS}^{(a,b,c)}_k(\tilde B_t) \approx U V^\top,\ "
    r"\theta_t = \theta_{t-1}(1-\gamma\lambda) - \gamma\sqrt{\max(1, \tfrac{\text{out}}{\text{in}})}\, O_t"
    r"\quad (X \leftarrow aX + (bXX^\top + c(XX^\top)^2)X;\ \text{other arrays: AdamW})",
    "lbfgs": r"d_k = -H_k g_k \text{ (two-loop recursion over the last } m \text{ pairs } "
    r"s_i = \theta_{i+1} - \theta_i,\ y_i = g_{i+1} - g_i),\ H_k^0 = \frac{s^\top y}{y^\top y} I,\ "
    r"\theta_{k+1} = \theta_k + t_k d_k,\ t_k = \gamma \text{ or strong Wolfe: } "
    r"f(\theta_k + t d_k) \le f(\theta_k) + c_1 t\, g_k^\top d_k,\ "
    r"|\nabla f(\theta_k + t d_k)^\top d_k| \le c_2 |g_k^\top d_k|",
}


# ---------------------------------------------------------------- one output of a convolution

CONV_SUM = (
    r"y[c, i, j] = b_c + \sum_{c',\,u,\,v} W[c, c', u, v] \cdot "
    r"x\bigl[c',\; s\,i + d\,u - p,\; s\,j + d\,v - p\bigr]"
)


def _term(value: float) -> str:
    """A number inside a written-out sum: a negative one in parentheses."""
    return f"({value:.4f})" if value < 0 else f"{value:.4f}"


def conv_sum_numbers(channel: int, row: int, col: int, bias: float, total: float) -> str:
    """``CONV_SUM`` for one output with its numbers: the bias plus the sum of the products."""
    return (
        rf"y[{channel}, {row}, {col}] = \underbrace{{{_term(bias)}}}_{{b_{{{channel}}}}}"
        rf" + \underbrace{{{_term(total)}}}_{{\sum W \cdot x}} = {bias + total:.4f}"
    )


def conv_output_size(n: int, kernel_size: int, stride: int, padding: int, dilation: int) -> str:
    """Torch's output-size formula, then with one layer's numbers filled in (one line each)."""
    k, s, p, d = kernel_size, stride, padding, dilation
    out = (n + 2 * p - d * (k - 1) - 1) // s + 1
    return (
        r"n_\text{out} = \left\lfloor \frac{n + 2p - d\,(k - 1) - 1}{s} \right\rfloor + 1,\qquad "
        rf"n_\text{{out}} = \left\lfloor \frac{{{n} + 2 \cdot {p} - {d} \cdot ({k} - 1) - 1}}"
        rf"{{{s}}} \right\rfloor + 1 = {out}"
    )
