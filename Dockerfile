# One image for every cameoguard process (API and workers); compose.yaml picks the command.
FROM python:3.11-slim-bookworm
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends ffmpeg espeak-ng libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -c requirements/constraints.txt . \
    && useradd --create-home --uid 1000 cameoguard \
    && mkdir -p /data && chown cameoguard /data
USER cameoguard
ENV CAMEOGUARD_HOME=/data
ENTRYPOINT ["cameoguard"]
CMD ["serve", "--host", "0.0.0.0"]
