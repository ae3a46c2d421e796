# spinlens with Ray and PostgreSQL support: one image for the driver, the head and the worker nodes of a Ray
# cluster (docs/cluster.md), so that every node analyses with the same spinlens and model tier.
#   docker build -t spinlens:0.1.0 .                              # the default tier (bundled)
#   docker build -t spinlens:0.1.0-fast --build-arg TIER=fast .   # the fast or accurate tier, built in the image
FROM python:3.11-slim

ARG TIER=default
# CPU-only torch (no CUDA libraries): spinlens runs on CPUs
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 RAY_USAGE_STATS_ENABLED=0 \
    SPINLENS_ENCODERS=/opt/spinlens/encoders

WORKDIR /opt/spinlens
COPY pyproject.toml README.md ./
COPY src ./src
RUN extras="ray,postgres" \
    && if [ "$TIER" != default ]; then extras="$extras,$TIER"; fi \
    && pip install --extra-index-url "$TORCH_INDEX" ".[$extras]" \
    && if [ "$TIER" != default ]; then spinlens models add "$TIER"; fi \
    && spinlens models

# the encoders built above stay readable by every user; Ray's images and KubeRay run as a non-root user with a writable home (~/.ray for the token)
RUN useradd --create-home --uid 1000 ray
USER ray
WORKDIR /home/ray
CMD ["spinlens", "--help"]
