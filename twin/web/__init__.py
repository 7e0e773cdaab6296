"""The web front of the app: what sits between the browser and Streamlit's server."""
