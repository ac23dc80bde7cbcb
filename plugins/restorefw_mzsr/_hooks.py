"""Registration of the MZSR plugin's components and of the authors' checkpoints (weights.toml).

Kernels are not registered here: the MZSR kernel family and test kernels already
exist in the basic plugin (``anisotropic_gaussian``, ``fixed_gaussian`` for g_λ,
``kernel_file``), and basic's ``blur`` degradation offers both the direct (g^d)
and the bicubic (g^b) down-sampling of the paper.
"""

from __future__ import annotations

from restorefw import Register, hookimpl
from restorefw.hookspecs import RegisterWeights

_LICENSE = "Apache-2.0"
_PAPER = ("Soh, Cho, Cho, Meta-Transfer Learning for Zero-Shot Super-Resolution, CVPR 2020, "
          "arXiv:2002.12213, https://github.com/JWSoh/MZSR")


@hookimpl
def register_models(register: Register) -> None:
    from restorefw_mzsr._adapt import zero_shot_sr
    from restorefw_mzsr._arch import MZSRConfig, build_mzsr
    from restorefw_mzsr._convert import IMPORTER

    register("mzsr", build_mzsr, schema=MZSRConfig, license=_LICENSE, paper=_PAPER,
             description="MZSR 8-layer residual CNN on the bicubic-enlarged input (225,091 parameters)",
             zero_shot=zero_shot_sr, importer=IMPORTER)


@hookimpl
def register_strategies(register: Register) -> None:
    from restorefw_mzsr._strategy import MetaTransfer, MetaTransferConfig

    register("meta_transfer", MetaTransfer, schema=MetaTransferConfig, license=_LICENSE, paper=_PAPER,
             description="MZSR meta-transfer learning (MAML, multi-step loss) with zero-shot adaptation eval")


@hookimpl
def register_weights(register: RegisterWeights) -> None:
    from importlib.resources import files

    from restorefw.weights import read_weights_table

    for entry in read_weights_table(files("restorefw_mzsr") / "weights.toml"):
        register(entry)
