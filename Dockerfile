# The medflow image used by compose.yaml: the Python package with every extra, plus the Debian
# tools the pipelines call (Tesseract OCR, poppler, ffmpeg). Runs as an unprivileged user.
FROM python:3.11-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       tesseract-ocr tesseract-ocr-eng poppler-utils ffmpeg qpdf \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir ".[all]"
RUN useradd --create-home --uid 10001 medflow && mkdir -p /var/lib/medflow \
    && chown medflow /var/lib/medflow
USER medflow
EXPOSE 8000
CMD ["medflow", "serve", "--host", "0.0.0.0", "--port", "8000"]
