"""Placeholder while the page is being built."""

import streamlit as st

st.title("compare")
st.info("This page is coming soon.")
