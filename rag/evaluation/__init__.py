"""Retrieval and answer evaluation on labelled data in standard formats (BEIR, SQuAD-style QA).

``datasets`` reads the files, ``metrics`` scores rankings, ``runner`` runs the retriever's
methods over the queries and reports figures side by side, and ``service`` runs the
retrieval, QA and answer evaluations over one indexed corpus for the CLI and the benchmarks
(``ingest.corpus`` builds or reopens that index).
"""
