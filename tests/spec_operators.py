"""An operator whose class name is also that of an Airflow operator, for import aliasing."""

from airflow.providers.standard.operators.empty import EmptyOperator as AirflowEmptyOperator


class EmptyOperator(AirflowEmptyOperator):
    """Another class called EmptyOperator."""
