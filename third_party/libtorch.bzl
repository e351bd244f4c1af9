"""Repository rule for libtorch from the PyPI torch wheel in .venv.

deploy/setup.sh installs the pinned torch wheel into the project-local virtual
environment. This rule links its include/ directory into an external
repository (see _SHADOWING_HEADER_DIRS) and writes a BUILD that links the shared libraries by absolute path
with an rpath, so the wheel's own $ORIGIN-relative rpaths (which find the
nvidia-* CUDA runtime packages beside it) keep working.
"""

_SHADOWING_HEADER_DIRS = ["google", "fmt", "pybind11"]

def _libtorch_repository_impl(rctx):
    workspace = rctx.path(Label("//:WORKSPACE")).dirname
    torch = workspace.get_child(".venv").get_child("lib").get_child(rctx.attr.python).get_child("site-packages").get_child("torch")
    if not torch.get_child("lib").get_child("libtorch_cpu.so").exists:
        fail("libtorch not found at %s: run deploy/setup.sh first" % torch)
    # Expose torch's headers, except the third-party copies it bundles that
    # Debian also provides in another version (protobuf for gRPC, fmt for
    # spdlog): seen first on the include path, they would shadow Debian's.
    for entry in torch.get_child("include").readdir():
        if entry.basename not in _SHADOWING_HEADER_DIRS:
            rctx.symlink(entry, "include/" + entry.basename)
    lib = str(torch.get_child("lib"))
    nvidia = str(torch.dirname.get_child("nvidia"))
    # The virtual environment's Python, for build-time reference fixtures
    # (Hugging Face transformers, tokenizers, safetensors).
    rctx.file("python.sh", """#!/bin/sh
exec "{venv}/bin/python" "$@"
""".format(venv = str(workspace.get_child(".venv"))), executable = True)
    rctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])

# Runs the .venv Python: `tools = ["@libtorch//:python"]` in a genrule.
sh_binary(
    name = "python",
    srcs = ["python.sh"],
)

# The CPU path: headers plus libtorch_cpu and libc10.
cc_library(
    name = "libtorch",
    hdrs = glob(["include/**/*.h", "include/**/*.hpp", "include/**/*.cuh"]),
    includes = ["include", "include/torch/csrc/api/include"],
    linkopts = ["-L{lib}", "-Wl,-rpath,{lib}", "-ltorch", "-ltorch_cpu", "-lc10"],
)

# The CUDA path: linked with --no-as-needed so that libtorch_cuda's kernels
# register themselves at load time. The binary still runs without a GPU:
# the CUDA runtime comes from the wheel's nvidia-* packages and loads without
# a driver, and torch::cuda::is_available() is then false.
cc_library(
    name = "libtorch_cuda",
    linkopts = [
        "-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed",
        "-Wl,-rpath-link,{lib}",
    ] + ["-Wl,-rpath-link,{nvidia}/" + d + "/lib" for d in {nvidia_dirs}],
    deps = [":libtorch"],
)
""".format(lib = lib, nvidia = nvidia, nvidia_dirs = repr([d.basename for d in rctx.path(nvidia).readdir()] if rctx.path(nvidia).exists else [])))

libtorch_repository = repository_rule(
    implementation = _libtorch_repository_impl,
    attrs = {"python": attr.string(default = "python3.11")},
    local = True,
)

def _base_model_repository_impl(rctx):
    workspace = rctx.path(Label("//:WORKSPACE")).dirname
    model = workspace.get_child("models").get_child(rctx.attr.directory)
    if not model.get_child("MANIFEST.json").exists:
        fail("base model not found at %s: run deploy/setup.sh first" % model)
    for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "MANIFEST.json"]:
        rctx.symlink(model.get_child(name), name)
    rctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])

exports_files(glob(["*.json", "*.safetensors"]))

filegroup(
    name = "files",
    srcs = glob(["*.json", "*.safetensors"]),
)
""")

# The base model built by deploy/setup.sh (models/<directory>), for tests and
# benchmarks: @smollm2//:tokenizer.json, @smollm2//:files.
base_model_repository = repository_rule(
    implementation = _base_model_repository_impl,
    attrs = {"directory": attr.string(mandatory = True)},
    local = True,
)
