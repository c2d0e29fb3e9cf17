"""The Streamlit dashboard: all of its code but the entry point, `app.py`.

`views/` holds the pages `app.py` navigates between; the other modules hold
what they share: session state, the model sidebar, the store, messages,
widgets, HTML snippets, and the helpers that keep each page short. They only
adapt promptkit to Streamlit; what prompts, models and scores mean is
promptkit's. (The folder is not called `pages/`: next to `app.py` that name
would switch on Streamlit's older pages-folder mode.)
"""
