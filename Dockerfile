# Portrait Bot: one bot process (Discord and/or Telegram, whichever tokens are set).
# docker compose up (docker-compose.yml) starts it with PostgreSQL; see README, "Docker".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The pinned runtime dependencies only (no test tools); every wheel needed is on PyPI for
# linux x86_64 and aarch64 (OpenCV headless, Pillow, pillow-heif bundle their libraries).
COPY requirements.txt .
RUN pip install -r requirements.txt

# A user of its own, no shell login, owning only the data folder (0700: the bot refuses a
# shared one).
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin portrait \
    && mkdir -p /data && chown portrait:portrait /data && chmod 700 /data
COPY bot/ bot/
COPY cogs/ cogs/

USER portrait
ENV BOT_DATA_DIR=/data \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464
VOLUME ["/data"]
EXPOSE 9464

# /healthz: 200 while the database, Wiro and every front end are reachable (bot/ops.py), on
# METRICS_PORT (an env file that sets it empty turns the endpoint off: leave it out there).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; port = os.environ.get('METRICS_PORT') or '9464'; sys.exit(u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"]

CMD ["python", "-m", "bot"]
