"""Placeholder while the page is being built."""

import streamlit as st

st.title("history")
st.info("This page is coming soon.")
