"""keras-style: neural style transfer for TensorFlow / Keras 3."""

from setuptools import find_packages, setup

# `trainers/` is installed as `keras_style.trainers`, so no generic top-level
# `trainers` package lands in site-packages.
PACKAGES = find_packages(include=["keras_style", "keras_style.*"]) + ["keras_style.trainers"]

CONSOLE_SCRIPTS = [
    "style_fetch_weights=keras_style.cli.fetch_weights:run",
    "style_gatys=keras_style.cli.gatys:run",
    "style_transfer=keras_style.cli.transfer:run",
    "style_export=keras_style.cli.export:run",
    "style_train_fast=keras_style.trainers.train_fast:run",
    "style_train_adain=keras_style.trainers.train_adain:run",
    "style_train_metanet=keras_style.trainers.train_metanet:run",
    "style_metanet_extract=keras_style.cli.metanet_extract:run",
    "style_evaluate=keras_style.cli.evaluate:run",
    "style_batch=keras_style.cli.batch:run",
    "style_video=keras_style.cli.video:run",
]

setup(
    name="keras-style",
    version="0.1.0",
    description="Neural style transfer (Gatys, Johnson, MetaNet, AdaIN) for TensorFlow / Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=PACKAGES,
    package_dir={"keras_style.trainers": "trainers"},
    install_requires=[
        # GPU users: pip install "tensorflow[and-cuda]" first; the same code runs.
        "tensorflow>=2.16",
        "keras>=3.3",
        "numpy",
        "scipy",
        "pillow",
        "absl-py",
        "tensorflow-datasets",
        "importlib_resources",
    ],
    extras_require={
        "tflite": ["ai-edge-litert"],
        "eval": ["matplotlib"],
        "beam": ["apache-beam"],
        "video": ["av", "opencv-python-headless"],
        "test": ["pytest", "pytest-xdist", "tensorflow-hub"],  # tensorflow-hub: the TF Hub calling-code test
    },
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
