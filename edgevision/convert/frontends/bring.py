"""[TF] ``edgevision convert MODEL --data DIR``: a model the user already has, through the same converter.

The brought model becomes what a training run gives — a float reference, a declared
preprocessing spec and labels — and then ``runner.convert_loaded`` does everything else
(calibration, gate, repair, honest names, metadata, reference images, Edge TPU readiness)
without knowing where it came from. Two checks happen first: whether the model ends in
logits (a softmax is then appended, so scores and thresholds mean probabilities as for
every edgevision model), and whether the float32 TFLite matches the original framework
on the same pixels — a lost normalization or swapped channels fail here, not as a bad int8.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from edgevision.convert.conversion import ConvertOptions, convert_loaded, resolve_policy
from edgevision.convert.frontends import sniff
from edgevision.convert.frontends.declare import Declared, decide_spec
from edgevision.convert.frontends.frontend_base import BroughtModel, decide_outputs
from edgevision.convert.frontends.judging_data import labelled_dataset, model_labels, unlabelled_images
from edgevision.convert.targets import check_quant, exclusive_target
from edgevision.data.discover import Dataset, Sample
from edgevision.data.loader import load_pixels
from edgevision.errors import BadInput, CheckFailed
from edgevision.model.labels import repeated, repeated_warning
from edgevision.model.spec import PreprocessSpec
from edgevision.train.rundir import RunDir

FLOAT_CHECK_IMAGES = 64
FLOAT_MAX_DIFF = 0.02      # largest score difference float32 TFLite vs original framework
FLOAT_MIN_AGREEMENT = 0.98


@dataclass(frozen=True)
class BringOptions:
    """What only a brought model needs (ConvertOptions carries the rest)."""

    data: Path
    labels: Path | None = None
    declared: Declared = field(default_factory=Declared)
    unlabelled: bool = False
    outputs: str = "auto"          # auto | probabilities | logits
    drop_first_label: bool = False
    name: str | None = None


def load_model(path: Path, fmt: str, declared: Declared) -> BroughtModel:
    if fmt in ("keras", "keras2"):
        from edgevision.convert.frontends.keras_src import load_keras_file

        return load_keras_file(path)
    if fmt == "savedmodel":
        from edgevision.convert.frontends.keras_src import load_saved_model

        return load_saved_model(path)
    if fmt == "tflite":
        from edgevision.convert.frontends.tflite_src import load_tflite

        return load_tflite(path)
    if fmt == "onnx":
        from edgevision.convert.frontends.onnx_src import load_onnx

        return load_onnx(path, declared.size)
    from edgevision.convert.frontends.torch_src import load_pt2

    return load_pt2(path, declared.size)


def _pixels(paths: list[str], spec: PreprocessSpec) -> np.ndarray:
    imgs = [img for p in paths for img, ok in [load_pixels(p, spec)] if ok]
    if not imgs:
        raise BadInput(f"none of {len(paths)} images could be read (first: {paths[0] if paths else '-'})")
    return np.stack(imgs)


def float_check(model: BroughtModel, data: bytes, spec: PreprocessSpec, classes: tuple[str, ...],
                images: np.ndarray) -> dict[str, Any]:
    """float32 TFLite through the device runtime vs the original framework, same resized pixels."""
    from edgevision.convert.export import model_card
    from edgevision.convert.validate import in_memory_model
    from edgevision.runtime.classifier import Classifier

    clf = Classifier(in_memory_model(data, model_card("check", spec, classes, "float32"), classes, "float32"))
    tfl = np.stack([clf.infer(clf.preprocessor.from_resized(img)) for img in images])
    ref = model.reference(images)
    diff = float(np.max(np.abs(tfl - ref)))
    agree = float(np.mean(tfl.argmax(-1) == ref.argmax(-1)))
    result = {"images": len(images), "top1_agreement": round(agree, 4), "max_abs_score_diff": float(f"{diff:.3g}"),
              "passed": diff <= FLOAT_MAX_DIFF and agree >= FLOAT_MIN_AGREEMENT}
    if not result["passed"]:
        raise CheckFailed(f"{model.origin}: the float32 TFLite does not match the original {model.kind} model on the "
                          f"same pixels (top-1 agreement {agree:.1%}, max score difference {diff:.3g}); the "
                          f"conversion ({model.route}) lost something — nothing was quantized")
    return result


def convert_brought(model_path: str | Path | BroughtModel, bring: BringOptions, options: ConvertOptions | None = None,
                    console: Console | None = None) -> dict[str, Any]:
    from edgevision.convert.quantize import convert_float

    opts = options or ConvertOptions()
    con = console or Console(stderr=True)
    pol = resolve_policy(opts)
    own = exclusive_target(pol.targets)  # a network made by the target's own toolchain (not a .tflite)
    if own is not None:  # refuse what it cannot take before anything is loaded
        own.load().check_options(opts, pol)
        if not isinstance(model_path, BroughtModel):
            own.load().check_brought(Path(model_path), sniff(Path(model_path)))
        own.load().check_ready()
    check_quant(pol.targets, pol.quant)
    if "onnx" in pol.formats:
        from edgevision.convert.onnx_export import check_available

        check_available()
    if bring.unlabelled and opts.max_drop is None:
        pol = replace(pol, max_drop=pol.max_disagreement)
    if isinstance(model_path, BroughtModel):  # Python API, e.g. torch_src.from_module(net, example)
        model, path = model_path, Path(model_path.origin)
        fmt = model.kind
    else:
        path = Path(model_path)
        fmt = sniff(path)
        with con.status(f"loading {path.name} ({fmt})"):
            model = load_model(path, fmt, bring.declared)
        fmt = model.kind  # e.g. a .h5 that turned out to be a Keras 2 file
    if own is not None:
        own.load().check_brought(path, fmt)
    spec, how = decide_spec(str(path), (model.width, model.height), model.channels, model.from_model, bring.declared)
    model.mean, model.std = spec.mean, spec.std
    classes, labels_where = model_labels(str(path), model.classes, bring.labels, model.labels,
                                         bring.drop_first_label, bring.unlabelled)
    twice = repeated_warning(classes, labels_where)
    if twice:  # allowed (ImageNet names two classes 'crane'): said once, kept apart by index from here on
        con.print(f"warning: {twice}", style="yellow", markup=False, highlight=False)
    if bring.unlabelled:
        files = unlabelled_images(bring.data)
        probe = _pixels(files[:: max(1, len(files) // FLOAT_CHECK_IMAGES)][:FLOAT_CHECK_IMAGES], spec)
    else:
        dataset = labelled_dataset(bring.data, classes, labels_where)
        pool = list(dataset.train) or list(dataset.val)
        probe = _pixels([s.path for s in pool[:: max(1, len(pool) // FLOAT_CHECK_IMAGES)]][:FLOAT_CHECK_IMAGES],
                        spec)
    outputs = decide_outputs(model, probe[:8], bring.outputs)
    # graph sources normalize inside (like edgevision's own models); a .tflite keeps its float input
    device_spec = spec if fmt == "tflite" else replace(spec, mean=(0.0,), std=(1.0,))
    if own is not None:  # no TFLite on this path: the toolchain proves its rebuild equals this model on probe images
        check = {"skipped": own.load().FLOAT_CHECK}
    else:
        with con.status("checking the float32 TFLite against the original model"):
            model.float32_bytes = convert_float(model, "float32")
            check = float_check(model, model.float32_bytes, device_spec, classes, probe)
    if bring.unlabelled:
        with con.status(f"labelling {len(files)} images with the original model's top-1"):
            def pseudo(files: list[str]) -> tuple[Sample, ...]:
                out = []
                for f in files:
                    img, ok = load_pixels(f, spec)
                    if ok:
                        out.append(Sample(f, int(model.reference(img[None])[0].argmax())))
                return tuple(out)

            labelled = pseudo(files)  # calibration and gate: the same images (data.unlabelled_images says why)
            dataset = Dataset(str(bring.data), classes, labelled, (), labelled, "all images")
    split, held = (pol.split, dataset.split(pol.split)) if pol.split else dataset.held_out()
    if not held or not dataset.train:
        raise BadInput(f"{bring.data}: too few images to both calibrate and validate on (train {len(dataset.train)}, "
                       f"{split} {len(held)}); add images or train/ and test/ folders")
    source = {"format": fmt, "file": str(path), "route": model.route,
              "preprocess": {**how, "mean": list(spec.mean), "std": list(spec.std),
                             "applied": "on the device (spec)" if fmt == "tflite" else "inside the model (first op)"},
              "outputs": outputs, "softmax_added": model.add_softmax, "labels": labels_where,
              "labels_repeated": {k: list(v) for k, v in repeated(classes).items()},
              "gate": ("int8 top-1 agreement with the float model, against its own noise floor" if bring.unlabelled
                       else "accuracy on labels"),
              "float_check": check}
    name = bring.name or path.stem.replace(" ", "_") or fmt
    if own is not None:
        target = own.load()
        source["preprocess"]["applied"] = target.PREPROCESS_APPLIED
        run = RunDir(root=path.parent, name=name, classes=classes, dataset=dataset, spec=spec,
                     recipe={"name": f"brought {fmt}", "seed": 0}, run={"source": source})
        return target.convert_loaded(run, model.keepalive, path, opts, pol, con,  # type: ignore[no-any-return]
                                     output="logits" if model.add_softmax else "scores",
                                     out_dir=opts.out or (path.parent if path.exists() else Path.cwd()), source=source)
    run = RunDir(root=path.parent, name=name, classes=classes, dataset=dataset, spec=device_spec,
                 recipe={"name": f"brought {fmt}", "seed": 0}, run={"source": source})
    out = opts.out or (path.parent if path.exists() else Path.cwd()) / f"{name}_edgevision"
    return convert_loaded(run, model, pol, replace(opts, out=out, gate="agreement" if bring.unlabelled else "accuracy"),
                          con)
