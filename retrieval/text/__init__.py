"""Reading documents: PDF, Markdown and text into clean text with pages and sections, chunked by section and
token budget, each document read in a child process with time and memory limits. Imports nothing above config.
"""
