"""The LangChain tutorial's indexing pipeline, run as the peer of ``ragstead ingest``.

Runs inside the peer's own virtual environment (built by ``ingest_vs_langchain.py`` from
pinned PyPI packages); imports nothing from Ragstead. Reads every ``.txt`` file of a folder,
splits with ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``, embeds with
``HuggingFaceEmbeddings`` (all-MiniLM-L6-v2 from a local directory) and writes to a persistent
Chroma collection, as the tutorial does. Prints one JSON line of counts and phase seconds.

    PEER_PYTHON benchmarks/langchain_peer.py FOLDER MODEL_DIR CHROMA_DIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    """Index the folder and print the figures."""
    folder, model_dir, chroma_dir = (Path(a) for a in sys.argv[1:4])
    started = time.perf_counter()
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    imported = time.perf_counter()
    docs = [
        Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": str(p)})
        for p in sorted(folder.rglob("*.txt"))
    ]
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=1000, chunk_overlap=200, add_start_index=True
    )
    splits = splitter.split_documents(docs)
    split = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=str(model_dir))
    store = Chroma(
        collection_name="tutorial", embedding_function=embeddings, persist_directory=str(chroma_dir)
    )
    loaded = time.perf_counter()
    store.add_documents(documents=splits)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "files": len(docs),
                "chunks": len(splits),
                "vectors": store._collection.count(),
                "import_s": round(imported - started, 3),
                "split_s": round(split - imported, 3),
                "model_load_s": round(loaded - split, 3),
                "embed_and_write_s": round(done - loaded, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
