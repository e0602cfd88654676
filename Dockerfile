FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY disagreement ./disagreement
COPY surveys ./surveys
COPY analysis ./analysis
RUN pip install --no-cache-dir .
COPY . .

# Static files are collected at build time; the key and host below exist only for this step.
RUN DJANGO_ENV=production DJANGO_SECRET_KEY=build-only-$(python -c 'import secrets; print(secrets.token_urlsafe(48))') \
    DJANGO_ALLOWED_HOSTS=build python manage.py collectstatic --noinput

RUN useradd --create-home --uid 1000 app && chown -R app /app
USER app
EXPOSE 8000
# 4 sync workers (on 2 cores faster than threads: the GIL) and a long timeout: a large export streams for minutes.
CMD ["gunicorn", "disagreement.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--timeout", "600", "--access-logfile", "-"]
