"""Operations: health of the moving parts and Prometheus metrics, as plain functions."""
