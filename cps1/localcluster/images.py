"""Container images built here from nothing, for the real node (no registry is reachable).

A Debian root file system that mmdebstrap makes from the pinned suite becomes the base image;
the Dockerfiles under images/ build on it with buildah (chroot isolation, `--pull-never`), fed
`--build-arg BASE=<that base>`. Each image lands as an OCI archive in a content-addressed cache:
its key hashes the Dockerfile, the files its COPY lines take, the build arguments and the base's
digest, so a warm call with nothing changed only hashes files.

    python -m cps1.localcluster.images [name ...]   prints one name=ref=/path/archive.tar line
                                                    per image (default: every image)

`ctr -n k8s.io images import ARCHIVE` imports an archive under its ref's full name.
"""

import fcntl
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = Path(__file__).with_name("versions.env")
CACHE = Path(os.environ.get("CPS1_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cps1")
IMAGES_DIR = CACHE / "images"
HOST_CA = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
# Bump when this module's recipe changes in a way that changes the images.
RECIPE = 2
SERVICES_REPOSITORY = "ghcr.io/cps1/cps1"
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
# Like Docker Hub's debian:*-slim: minbase without manuals, docs (copyrights stay) or locales.
SLIM = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)


@dataclass(frozen=True)
class Image:
    """One image: the ref manifests name it by, its recipe, and where its build context is."""

    name: str
    ref: str
    dockerfile: str
    args: tuple[tuple[str, str], ...] = ()
    # "" is the repository root; otherwise a cps1/localcluster/build.sh component's directory.
    context_component: str = ""


def read_versions(path: Path = VERSIONS) -> dict[str, str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def catalog(versions: dict[str, str]) -> tuple[Image, ...]:
    """Every image: those examples/templates/ and the chart name, in build order."""
    workspace = "images/workspace/Dockerfile"
    return (
        # The name the chart's default image.repository and the release workflow use.
        Image("cps1", f"{SERVICES_REPOSITORY}:0.1.0", "images/cps1/Dockerfile"),
        *(
            Image(f"workspace-{tool}", f"cps1/workspace-{tool}:0.1.0", workspace, (("TOOLCHAIN", tool),))
            for tool in ("python", "node", "go")
        ),
        Image(
            "metacontroller",
            f"ghcr.io/metacontroller/metacontroller:{versions['METACONTROLLER_VERSION']}",
            "images/metacontroller/Dockerfile",
            context_component="metacontroller",
        ),
    )


def full_ref(ref: str) -> str:
    """The name containerd gives `ref` (Docker Hub's defaults spelled out)."""
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return ref
    return f"docker.io/{ref}" if rest else f"docker.io/library/{ref}"


def copy_sources(dockerfile: str) -> list[str]:
    """Context paths the Dockerfile's COPY and ADD lines take (not those from other stages)."""
    sources: list[str] = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if words and words[0].upper() in ("COPY", "ADD") and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def context_files(context: Path, sources: Iterable[str]) -> Iterator[Path]:
    for source in sources:
        path = context / source
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        yield from (p for p in candidates if p.is_file() and "__pycache__" not in p.parts)


def cache_key(*, recipe: str, files: dict[str, str], args: dict[str, str], base: str) -> str:
    """The image's identity: everything that goes into it, and nothing else. (Not the name its
    archive carries: renaming an image in catalog() alone needs a RECIPE bump.)"""
    material = json.dumps({"r": RECIPE, "recipe": recipe, "files": files, "args": args, "base": base}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:20]


def base_recipe(suite: str) -> list[str]:
    """mmdebstrap's command line for the base root file system (a tarball on stdout)."""
    sources = [f"deb {MIRROR} {suite} main", f"deb {MIRROR} {suite}-updates main"]
    sources.append(f"deb {SECURITY} {suite}-security main")
    options = ["--quiet", "--variant=minbase", "--format=tar", *(f"--dpkgopt={o}" for o in SLIM)]
    return ["mmdebstrap", *options, suite, "-", *sources]


def log(message: str) -> None:
    print(f"[cps1-images {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def buildah(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """buildah on the cache's own storage (overlay), so nothing touches the system's images."""
    storage = ["--root", str(IMAGES_DIR / "storage"), "--runroot", str(IMAGES_DIR / "run")]
    storage += ["--storage-driver", "overlay"]
    return subprocess.run(["buildah", *storage, *args], **{"check": True, **kwargs})


def has_image(ref: str) -> bool:
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    return buildah("inspect", "--type", "image", ref, check=False, **quiet).returncode == 0


@dataclass(frozen=True)
class Built:
    name: str
    ref: str
    archive: Path
    digest: str


def stored(name: str, key: str, ref: str) -> Built | None:
    archive = IMAGES_DIR / f"{name}-{key}.tar"
    digest = archive.with_suffix(".digest")
    return Built(name, ref, archive, digest.read_text().strip()) if digest.exists() else None


def publish(name: str, key: str, ref: str, start: float) -> Built:
    """Push the built `ref` into the cache as an OCI archive, atomically, and drop older keys."""
    with tempfile.TemporaryDirectory(dir=IMAGES_DIR) as tmp:
        archive, digest = Path(tmp) / "image.tar", Path(tmp) / "digest"
        target = f"oci-archive:{archive}:{full_ref(ref)}"
        buildah("push", "--quiet", "--digestfile", str(digest), ref, target)
        for old in IMAGES_DIR.glob(f"{name}-*.*"):
            old.unlink()
        archive.rename(IMAGES_DIR / f"{name}-{key}.tar")
        digest.rename(IMAGES_DIR / f"{name}-{key}.digest")
    log(f"{name}: {ref} built in {time.monotonic() - start:.0f}s")
    built = stored(name, key, ref)
    assert built is not None, f"{name}: {ref} is missing from the cache right after its push"
    return built


def ensure_in_storage(built: Built) -> None:
    """Builds start from buildah's storage; refill it from the archive when it was cleared."""
    if not has_image(built.ref):
        buildah("pull", "--quiet", f"oci-archive:{built.archive}", stdout=subprocess.DEVNULL)
        buildah("tag", full_ref(built.ref), built.ref)


def ensure_base(suite: str) -> Built:
    recipe = base_recipe(suite)
    key = cache_key(recipe=json.dumps(recipe), files={}, args={}, base="")
    ref = f"localhost/cps1/debian:{suite}-{key[:12]}"
    found = stored("base", key, ref)
    if found is None:
        start = time.monotonic()
        log(f"base: mmdebstrap {suite} (about a minute)")
        with tempfile.TemporaryDirectory(dir=IMAGES_DIR) as tmp:
            rootfs = Path(tmp) / "rootfs.tar"
            with rootfs.open("wb") as out:
                subprocess.run(recipe, check=True, stdout=out)
            container = buildah("from", "scratch", stdout=subprocess.PIPE, text=True).stdout.strip()
            try:
                buildah("add", "--quiet", container, str(rootfs), "/")
                path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                buildah("config", "--env", path, "--cmd", "bash", container)
                buildah("commit", "--quiet", container, ref, stdout=subprocess.DEVNULL)
            finally:
                buildah("rm", container, stdout=subprocess.DEVNULL)
        found = publish("base", key, ref, start)
    ensure_in_storage(found)
    return found


def context_of(image: Image) -> Path:
    if not image.context_component:
        return ROOT
    from cps1.localcluster import cluster  # only this image needs build.sh's components

    return cluster.binaries((image.context_component,))[image.context_component]


def trust_args(bundle: Path) -> list[str]:
    """This machine reaches the registries through a TLS-inspecting proxy whose CA only the
    host trusts: RUN steps see the host's bundle, mounted read-only, as the Dockerfiles' CA
    build arguments (nothing of it stays in an image)."""
    if not bundle.is_file():
        return []
    inside = "/run/cps1/host-ca.crt"
    return [
        "--volume",
        f"{bundle}:{inside}:ro",
        "--build-arg",
        f"NODE_EXTRA_CA_CERTS={inside}",
        "--build-arg",
        f"PIP_CERT={inside}",
    ]


def ensure_image(image: Image, base: Built) -> Built:
    context = context_of(image)
    dockerfile = (ROOT / image.dockerfile).read_text()
    files = {str(p.relative_to(context)): file_digest(p) for p in context_files(context, copy_sources(dockerfile))}
    args = {"BASE": base.ref, **dict(image.args)}
    key = cache_key(recipe=dockerfile, files=files, args=args, base=base.digest)
    found = stored(image.name, key, image.ref)
    if found is not None:
        return found
    start = time.monotonic()
    log(f"{image.name}: building {image.ref} from {image.dockerfile}")
    build_args = [a for k, v in args.items() for a in ("--build-arg", f"{k}={v}")]
    buildah(
        "bud", "--isolation", "chroot", "--layers", "--force-rm", "--pull-never", "--quiet",
        *build_args, *trust_args(HOST_CA), "-f", str(ROOT / image.dockerfile), "-t", image.ref, str(context),
        stdout=sys.stderr,
    )  # fmt: skip
    return publish(image.name, key, image.ref, start)


def file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def ensure(names: Iterable[str] = ()) -> list[Built]:
    """The named images (default: all), built when their key is not in the cache yet. One
    builder at a time: concurrent callers wait on a lock, then find the archives."""
    versions = read_versions()
    images = catalog(versions)
    wanted = list(names) or [i.name for i in images]
    unknown = set(wanted) - {i.name for i in images} - {"base"}
    if unknown:
        known = ", ".join(["base", *(i.name for i in images)])
        raise SystemExit(f"unknown image(s): {', '.join(sorted(unknown))} (known: {known})")
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    (CACHE / "locks").mkdir(parents=True, exist_ok=True)
    with (CACHE / "locks" / "images.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        base = ensure_base(versions["DEBIAN_SUITE"])
        built = {"base": base, **{i.name: ensure_image(i, base) for i in images if i.name in wanted}}
    return [built[name] for name in wanted]


def main(argv: list[str]) -> None:
    for image in ensure(argv):
        print(f"{image.name}={image.ref}={image.archive}")


if __name__ == "__main__":
    main(sys.argv[1:])
