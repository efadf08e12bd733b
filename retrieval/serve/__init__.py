"""The engine behind the app: one model and the live index per process, background jobs, conversations, answer
links, uploads, maintainers' sign-in and audit, PDF page images, and what the app shows as escaped HTML.
"""
