"""An operator factory written exactly as the seed's Spark integration page describes one.

It derives from kedro_airflow_k8s.template_helper.SparkOperatorFactoryBase and provides the
four members the page lists, each returning a string of operator source, the way factories
for the older plugin were written (f-strings of source, quotes pasted around values).
"""

from kedro_airflow_k8s.template_helper import SparkOperatorFactoryBase


class SeedStyleFactory(SparkOperatorFactoryBase):
    @property
    def imports_statement(self):
        return """
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
"""

    def create_cluster_operator(self, project_name, config, init_script_path, cluster_config):
        return f"""
        BashOperator(
            task_id="create-{project_name}-cluster",
            bash_command="echo creating {project_name} with {init_script_path}",
        )
        """

    def delete_cluster_operator(self, project_name, config):
        return f"""
        BashOperator(
            task_id="delete-{project_name}-cluster",
            bash_command="echo deleting {project_name}",
            trigger_rule="all_done",
        )
        """

    def submit_operator(self, project_name, node, pipeline, config, main_python_file_path):
        return f"""
        BashOperator(
            task_id="{node.name}",
            bash_command="echo run {main_python_file_path} {",".join(node.nodes)} on {{{{ ds }}}}",
        )
        """
